"""Find the passages that best match a question: dense (FAISS) fused with BM25, with their sources."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from qa import tokens
from qa.config import MAX_QUESTION_CHARS
from qa.dates import TimeFeatures, TimeScope, article_ordinal, time_features, time_scope
from qa.embed import Embedder
from qa.errors import QuestionError
from qa.filters import ChunkFacets, Filters, dense_search_filtered
from qa.indexformat import index_settings
from qa.lexical import Lexical
from qa.store import ArticleRow, Catalog, DerivedUnusable, faiss_from_catalog, read_faiss

MODES = ("hybrid", "dense", "bm25")
CANDIDATES = 100  # depth taken from each retriever before fusing
# Convex fusion weight of the dense score (BM25 gets the rest), chosen on SciFact: see README.
DENSE_WEIGHT = 0.65
TIME_RERANK_DEPTH = 100  # fused passages re-scored by their dates when a question is asked as of a date


@dataclass(frozen=True)
class TimeWeights:
    """How much a passage's dates move its fused score (eval/time_weights.py fits them on news-quiz,
    cross-validated by year): `explicit` x the fit to dates the question names (-1..1); for
    "next"/"latest"/"this week" questions up to `recent` off for an article older than the newest one
    among the candidates within `margin` of the best score (half of it after `half_life` days), and
    `recent_default` likewise for other questions (news questions mean the latest event unless they say
    otherwise); `forward` x whether a "next" question's sentence names a year not yet past."""

    # eval/time_weights.py on news-quiz (1,186 answerable questions): gold article at rank 1 on held-out
    # years 0.9185 (as_of alone 0.806, no dates 0.756). Fitted on all four years; `margin` is 0.3, as
    # the 2023 fold chose, not the all-years 1.0: with 1.0 any newer article, on any subject, would make
    # the reports of the asked event look old (tests/data/timeline's summit question)
    explicit: float = 0.1
    recent: float = 0.3
    recent_default: float = 0.2
    half_life: float = 7.0
    forward: float = 0.0
    margin: float = 0.3


TIME_WEIGHTS = TimeWeights()
RECENT_RANGE_DAYS = 31  # a question's dates ending longer ago than this ask about the past, not the latest


@dataclass
class Hit:
    rank: int
    score: float
    chunk_id: int
    text: str
    start: int  # offsets of the passage in the article text
    end: int
    article_id: str
    title: str
    date: str | None
    outlet: str | None
    url: str | None
    path: str
    dense_score: float | None = None  # the parts of `score`: features of the answer model
    bm25_score: float | None = None
    story: str | None = None  # the story group: syndicated copies of one story share it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_question(question: str) -> str:
    """The question as one clean line: terminal escape sequences and control characters removed
    (they must never reach a terminal or the index raw), whitespace collapsed, length checked."""
    from qa.ingest import normalize

    question = question.encode("utf-8", "replace").decode("utf-8")  # undecodable argv bytes become "?"
    question = " ".join(normalize(question).split())
    if not question:
        raise QuestionError('the question is empty: ask something, e.g. qa ask "Where is the next forum hosted?"')
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question


class Retriever:
    """Reads an index folder (never writes it); `search` is safe to call from one thread at a time.
    A derived file that is missing or stale is rebuilt in memory from the catalogue; `warnings` says
    so when one was damaged (the next `qa index` writes it anew)."""

    def __init__(
        self,
        folder: Path,
        embedder: Embedder,
        dense_weight: float = DENSE_WEIGHT,
        time_weights: TimeWeights = TIME_WEIGHTS,
    ) -> None:
        import faiss

        self.folder = Path(folder)
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.time_weights = time_weights
        self.warnings: list[str] = []
        self.catalog = Catalog(self.folder)
        self.catalog.check_settings(index_settings(embedder))
        self.tag = tag = self.catalog.tag()  # the index state this reader serves
        try:
            self.faiss = read_faiss(self.folder, tag)
        except DerivedUnusable as e:
            self._note(e)
            self.faiss = faiss_from_catalog(self.catalog, embedder.dim)
        faiss.omp_set_num_threads(1)  # one query at a time: threads cost more than they save (measured)
        try:
            self.lexical = Lexical.load(self.folder, tag)
        except DerivedUnusable as e:
            self._note(e)
            self.lexical = Lexical.build(*self.catalog.all_chunk_texts())
        self._articles: dict[str, ArticleRow] = {}
        self._facets: ChunkFacets | None = None
        self._latest_day: int | None = None  # the latest article date (ordinal), read on the first question
        self._last_question: tuple[str, np.ndarray, np.ndarray | None] | None = None  # its vector and pieces

    def _note(self, problem: DerivedUnusable) -> None:
        if problem.damaged:
            self.warnings.append(f"{problem}: rebuilt from the catalogue for now; `qa index` repairs the file")

    def close(self) -> None:
        self.catalog.close()

    @property
    def size(self) -> int:
        return int(self.faiss.ntotal)

    def embed(self, question: str) -> np.ndarray:
        return self._embedded(question)[1]

    def question_tokens(self, question: str) -> np.ndarray | None:
        """The question's content word pieces for late interaction (qa.tokens), from the run that gave its
        vector; None when the embedder gives none."""
        return self._embedded(question)[2]

    def _embedded(self, question: str) -> tuple[str, np.ndarray, np.ndarray | None]:
        last = self._last_question  # one tuple, replaced whole: safe to read from another thread
        if last is not None and last[0] == question:
            return last
        with_tokens = getattr(self.embedder, "encode_question", None)  # a test stand-in may have none
        if with_tokens is not None and tokens.supported(self.embedder.name):
            vector, states = with_tokens(question)
            pieces = tokens.compress(*states) if states is not None else None
        else:
            vector, pieces = self.embedder.encode_queries([question])[0], None
        self._last_question = last = (question, np.asarray(vector, dtype=np.float32), pieces)
        return last

    def story_members(self, story: str) -> list[ArticleRow]:
        """Every article of a story, oldest first (a story of one article: that article)."""
        return self.catalog.story_members(story) or ([a] if (a := self.article(story)) else [])

    def article(self, article_id: str) -> ArticleRow | None:
        if article_id not in self._articles:
            row = self.catalog.article(article_id)
            if row is None:
                return None
            self._articles[article_id] = row
        return self._articles[article_id]

    def dense(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first; `allowed`: sorted chunk ids to search among (filters)."""
        if self.size == 0:
            return []
        if allowed is not None:
            return dense_search_filtered(self.faiss, vector, k, allowed)
        scores, ids = self.faiss.search(vector.reshape(1, -1).astype(np.float32), min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    @property
    def facets(self) -> ChunkFacets:
        """Each chunk's article date and outlets, loaded on the first question that needs them."""
        if self._facets is None:
            self._facets = ChunkFacets.load(self.catalog.db)
        return self._facets

    def dated_after(self, as_of: date) -> bool:
        """Whether any article is dated after `as_of`: with today's date, usually none is, and the
        question needs no date mask (nor the chunk facets loaded for it)."""
        if self._latest_day is None:
            days = (article_ordinal(row[0]) for row in self.catalog.db.execute("SELECT DISTINCT date FROM articles"))
            self._latest_day = max((d for d in days if d is not None), default=-1)
        return self._latest_day > as_of.toordinal()

    def allowed(self, filters: Filters | None, as_of: date | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The chunks a question may use: those the filters keep, less articles dated after `as_of`
        (undated ones stay: their date is unknown, not late). None when all may; else their sorted ids
        and a mask over the BM25 index's documents."""
        facets = self.facets
        keep = np.ones(len(facets.chunk_ids), dtype=bool)
        if filters is not None and filters.active:
            keep &= facets.chunk_mask(filters)
        if as_of is not None:
            day = facets.article_day[facets.chunk_article]
            keep &= (day < 0) | (day <= as_of.toordinal())
        if keep.all():
            return None
        ids = facets.chunk_ids[keep]
        same_order = np.array_equal(self.lexical.chunk_ids, facets.chunk_ids)  # both read by id: the usual case
        mask = keep if same_order else np.isin(self.lexical.chunk_ids, ids, assume_unique=True)
        return ids, mask

    def search(
        self,
        question: str,
        k: int = 5,
        mode: str = "hybrid",
        vector: np.ndarray | None = None,
        filters: Filters | None = None,
        as_of: date | None = None,
    ) -> list[Hit]:
        """The k best distinct passages among those the filters keep and dated on or before `as_of`
        (None: no date limit); where the question speaks of time ("next", "in 2021"), passages whose
        date fits it rank higher. `vector` is the question's embedding when already computed."""
        question = check_question(question)
        if mode not in MODES:
            raise QuestionError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
        depth = max(CANDIDATES, 4 * k)
        dated = as_of is not None and self.dated_after(as_of)
        limits = (
            self.allowed(filters, as_of if dated else None)
            if (filters is not None and filters.active) or dated
            else None
        )
        allowed, mask = limits if limits is not None else (None, None)
        if allowed is not None and not len(allowed):
            return []
        vector = vector if vector is not None else self.embed(question) if mode != "bm25" else None
        dense = self.dense(vector, depth, allowed) if vector is not None else []
        lexical = self.lexical.search(question, depth, mask) if mode != "dense" else []
        fused = fuse(dense, lexical, mode, self.dense_weight)
        if as_of is not None:
            fused = self._time_ranked(fused, time_scope(question, as_of))
        return self._distinct_hits(fused, dict(dense), dict(lexical), k)

    def _time_ranked(self, fused: list[tuple[int, float]], scope: TimeScope) -> list[tuple[int, float]]:
        """The top passages re-scored by their dates (see TimeWeights), best first."""
        top = fused[:TIME_RERANK_DEPTH]
        if not top:
            return fused
        rows = self.catalog.chunks_by_id(cid for cid, _ in top)
        dated = []
        for cid, score in top:
            row = rows.get(cid)
            article = self.article(row.article_id) if row else None
            dated.append((cid, score, article.date if article else None, row.text if row else ""))
        rescored = time_rescore(dated, scope, self.time_weights)
        return sorted(rescored, key=lambda item: -item[1]) + fused[TIME_RERANK_DEPTH:]

    def _distinct_hits(
        self, fused: list[tuple[int, float]], dense: dict[int, float], lexical: dict[int, float], k: int
    ) -> list[Hit]:
        """Hits best first, leaving out a passage that mostly repeats a better one of the same article,
        and every passage of another copy of a story already shown (syndicated copies take one slot)."""
        hits: list[Hit] = []
        shown: dict[str, str] = {}  # story -> the article shown for it
        for offset in range(0, len(fused), 4 * k):
            rows = self.catalog.chunks_by_id(cid for cid, _ in fused[offset : offset + 4 * k])
            for cid, score in fused[offset : offset + 4 * k]:
                row = rows.get(cid)
                article = self.article(row.article_id) if row else None
                if row is None or article is None:
                    continue  # the index moved on under a reader: skip ids the catalogue no longer has
                if any(h.article_id == row.article_id and _overlap(h, row.start, row.end) > 0.5 for h in hits):
                    continue
                story = article.story or article.id
                if shown.setdefault(story, article.id) != article.id:
                    continue
                hits.append(
                    Hit(
                        len(hits) + 1,
                        score,
                        cid,
                        row.text,
                        row.start,
                        row.end,
                        row.article_id,
                        article.title,
                        article.date,
                        article.outlet,
                        article.url,
                        article.path,
                        dense.get(cid),
                        lexical.get(cid),
                        story,
                    )
                )
                if len(hits) == k:
                    return hits
        return hits


def _overlap(hit: Hit, start: int, end: int) -> float:
    shared = min(hit.end, end) - max(hit.start, start)
    return max(0, shared) / max(1, end - start)


def fuse(
    dense: list[tuple[int, float]], lexical: list[tuple[int, float]], mode: str, dense_weight: float = DENSE_WEIGHT
) -> list[tuple[int, float]]:
    """Convex combination of dense cosine and max-normalised BM25; one list alone passes through."""
    if mode == "dense" or not lexical:
        return dense
    if mode == "bm25" or not dense:
        return lexical
    top = lexical[0][1] or 1.0
    bm25 = {cid: s / top for cid, s in lexical}
    cos = dict(dense)
    floor = min(cos.values())  # a chunk BM25 found but dense did not rank: at most the dense floor
    ids = set(cos) | set(bm25)
    scored = {cid: dense_weight * cos.get(cid, floor) + (1 - dense_weight) * bm25.get(cid, 0.0) for cid in ids}
    return sorted(scored.items(), key=lambda item: -item[1])


def time_rescore(
    candidates: list[tuple[int, float, str | None, str]], scope: TimeScope, weights: TimeWeights
) -> list[tuple[int, float]]:
    """(id, score) for (id, score, article date, text) candidates, with their time fit added."""
    features = [time_features(scope, day, text) for _, _, day, text in candidates]
    scores = time_adjusted([score for _, score, _, _ in candidates], features, scope, weights)
    return [(cid, score) for (cid, _, _, _), score in zip(candidates, scores)]


def time_adjusted(
    scores: list[float], features: list[TimeFeatures], scope: TimeScope, weights: TimeWeights
) -> list[float]:
    # "newest" among the passages about the question: those within `margin` of the best score (a new
    # article on another subject must not make every report of the asked event look old)
    top = max(scores, default=0.0)
    ages = [
        f.days_before
        for f, score in zip(features, scores)
        if f.days_before is not None and f.days_before >= 0 and score >= top - weights.margin
    ]
    newest = min(ages, default=0)
    # the latest report is preferred unless the question names past dates ("held in 2021"); "this week"
    # or "on Monday" name recent ones, which the latest reports are about
    past = bool(scope.ranges) and all((scope.as_of - r.end).days > RECENT_RANGE_DAYS for r in scope.ranges)
    recent = 0.0 if past else weights.recent if scope.relative else weights.recent_default
    out = []
    for score, f in zip(scores, features):
        if f.after_as_of:
            score -= 1.0  # only reachable with no as_of filter in the retriever: never the answer
        if scope.ranges:
            score += weights.explicit * f.explicit
        # Older reports lose up to `recent`; the newest (and undated ones, not known to be old) keep their
        # score, so the best passage's score keeps the scale the answer scorer and its threshold expect.
        days = f.days_before
        if recent and days is not None and days >= 0:
            score -= recent * (1.0 - 0.5 ** (max(0, days - newest) / weights.half_life))
        out.append(score + weights.forward * f.forward)
    return out
