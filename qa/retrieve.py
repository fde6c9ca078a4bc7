"""Find the passages that best match a question: dense (FAISS) fused with BM25, with their sources."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import MAX_QUESTION_CHARS
from qa.embed import Embedder
from qa.errors import QuestionError
from qa.indexformat import index_settings
from qa.lexical import Lexical
from qa.store import ArticleRow, Catalog, DerivedUnusable, faiss_from_catalog, read_faiss

MODES = ("hybrid", "dense", "bm25")
CANDIDATES = 100  # depth taken from each retriever before fusing
# Convex fusion weight of the dense score (BM25 gets the rest), chosen on SciFact: see README.
DENSE_WEIGHT = 0.65


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

    def __init__(self, folder: Path, embedder: Embedder, dense_weight: float = DENSE_WEIGHT) -> None:
        import faiss

        self.folder = Path(folder)
        self.embedder = embedder
        self.dense_weight = dense_weight
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

    def _note(self, problem: DerivedUnusable) -> None:
        if problem.damaged:
            self.warnings.append(f"{problem}: rebuilt from the catalogue for now; `qa index` repairs the file")

    def close(self) -> None:
        self.catalog.close()

    @property
    def size(self) -> int:
        return int(self.faiss.ntotal)

    def embed(self, question: str) -> np.ndarray:
        return np.asarray(self.embedder.encode_queries([question])[0], dtype=np.float32)

    def article(self, article_id: str) -> ArticleRow | None:
        if article_id not in self._articles:
            row = self.catalog.article(article_id)
            if row is None:
                return None
            self._articles[article_id] = row
        return self._articles[article_id]

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0:
            return []
        scores, ids = self.faiss.search(vector.reshape(1, -1).astype(np.float32), min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def search(self, question: str, k: int = 5, mode: str = "hybrid", vector: np.ndarray | None = None) -> list[Hit]:
        """The k best distinct passages; `vector` is the question's embedding when already computed."""
        question = check_question(question)
        if mode not in MODES:
            raise QuestionError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
        depth = max(CANDIDATES, 4 * k)
        dense = self.dense(vector if vector is not None else self.embed(question), depth) if mode != "bm25" else []
        lexical = self.lexical.search(question, depth) if mode != "dense" else []
        fused = fuse(dense, lexical, mode, self.dense_weight)
        return self._distinct_hits(fused, dict(dense), dict(lexical), k)

    def _distinct_hits(
        self, fused: list[tuple[int, float]], dense: dict[int, float], lexical: dict[int, float], k: int
    ) -> list[Hit]:
        """Hits best first, leaving out a passage that mostly repeats a better one of the same article."""
        hits: list[Hit] = []
        for offset in range(0, len(fused), 4 * k):
            rows = self.catalog.chunks_by_id(cid for cid, _ in fused[offset : offset + 4 * k])
            for cid, score in fused[offset : offset + 4 * k]:
                row = rows.get(cid)
                article = self.article(row.article_id) if row else None
                if row is None or article is None:
                    continue  # the index moved on under a reader: skip ids the catalogue no longer has
                if any(h.article_id == row.article_id and _overlap(h, row.start, row.end) > 0.5 for h in hits):
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
