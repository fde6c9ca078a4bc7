"""Date and outlet filters: typed in a question, turned into allowed chunk ids, applied inside FAISS and BM25."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.dates import DateError, article_ordinal, parse_date

if TYPE_CHECKING:
    from qa.lexical import Lexical

IdArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class Filters:
    """Keep passages of articles dated since..until (inclusive) and from one of `outlets` (any if empty).
    `as_of` is carried along when typed in the question box; it is not a filter but the asking date."""

    since: date | None = None
    until: date | None = None
    outlets: tuple[str, ...] = ()
    as_of: date | None = None

    @property
    def active(self) -> bool:
        """True when some passages may be left out."""
        return self.since is not None or self.until is not None or bool(self.outlets)

    def to_dict(self) -> dict[str, Any]:
        """For JSON output: ISO dates, the outlets as a list."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "outlets": list(self.outlets),
        }


# since:2023-01-01 until:2023-06 outlet:Xinhua outlet:"The Herald" as-of:2022-01-01 (also from:/to:, source:)
FILTER_WORD = re.compile(
    r"(?<!\S)(?P<key>since|from|after|until|to|before|outlet|source|as-?of|as_of):"
    r"(?:\"(?P<quoted>[^\"]*)\"|'(?P<single>[^']*)'|(?P<bare>\S+))",
    re.I,
)


def parse_filter_words(question: str) -> tuple[str, Filters]:
    """Split `since:DATE until:DATE outlet:NAME as-of:DATE` words off a typed question. A bad date raises
    DateError with a one-line message; words that are not filters stay in the question."""
    since: date | None = None
    until: date | None = None
    as_of: date | None = None
    outlets: list[str] = []
    for m in FILTER_WORD.finditer(question):
        key = m.group("key").lower().replace("_", "-")
        value = next(v for v in (m.group("quoted"), m.group("single"), m.group("bare")) if v is not None).strip()
        if not value:
            raise DateError(
                f"{key}: needs a value, e.g. {key}:2023-01-01" if key != "outlet" else "outlet: needs a name"
            )
        if key in ("outlet", "source"):  # outlet:Xinhua,Reuters names two; a quoted name is taken whole
            outlets.extend([value] if m.group("bare") is None else [v for v in value.split(",") if v])
        elif key in ("since", "from", "after"):
            since = parse_date(value)
        elif key in ("until", "to", "before"):
            until = parse_date(value, end=True)
        else:
            as_of = parse_date(value, end=True)
    if since and until and since > until:
        raise DateError(f"since:{since} is after until:{until}: nothing can match")
    rest = " ".join(FILTER_WORD.sub(" ", question).split())
    return rest, Filters(since, until, tuple(dict.fromkeys(outlets)), as_of)


def outlet_matches(outlet: str | None, wanted: tuple[str, ...]) -> bool:
    """Case-insensitive whole-word match: "xinhua" matches "Xinhua" and "Xinhua News Agency", "AP"
    does not match "Japan Today"."""
    if not outlet:
        return False
    words = _words(outlet)
    for name in wanted:
        want = _words(name)
        n = len(want)
        if n and any(words[i : i + n] == want for i in range(len(words) - n + 1)):
            return True
    return False


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


@dataclass
class ChunkFacets:
    """Per chunk, what filters look at (its article's day and outlets), as arrays: filtering 100k chunks
    is a few vectorised numpy operations, not an SQL query per question. Load once per index state."""

    chunk_ids: IdArray  # sorted
    chunk_article: np.ndarray[Any, np.dtype[np.int32]]  # index into the article arrays
    article_day: np.ndarray[Any, np.dtype[np.int64]]  # date.toordinal(), -1 when undated or month-day only
    outlet_names: list[str]
    pair_article: np.ndarray[Any, np.dtype[np.int32]]  # (article, outlet) pairs: a copy's outlet counts too
    pair_outlet: np.ndarray[Any, np.dtype[np.int32]]
    _cache: dict[Filters, IdArray] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, db: sqlite3.Connection) -> ChunkFacets:
        """From the catalogue (qa.store.Catalog.db): tables articles(id, date, outlet, duplicate_of) and
        chunks(id, article_id). A syndicated copy (duplicate_of set) lends its outlet to the original's
        chunks, since those chunks stand for both."""
        articles: dict[str, int] = {}
        days: list[int] = []
        names: dict[str, int] = {}
        pairs: set[tuple[int, int]] = set()
        rows = db.execute("SELECT id, date, outlet, duplicate_of FROM articles").fetchall()
        for article_id, day, _outlet, original in rows:
            if original is None:
                articles[article_id] = len(days)
                ordinal = article_ordinal(day)
                days.append(-1 if ordinal is None else ordinal)
        for article_id, _day, outlet, original in rows:  # after the originals: copies point to them
            owner = articles.get(original if original is not None else article_id)
            if owner is not None and outlet:
                pairs.add((owner, names.setdefault(outlet, len(names))))
        ids: list[int] = []
        owners: list[int] = []
        # no ORDER BY: unordered, SQLite reads the small covering index chunks_article instead of every
        # chunk row with its text and vector (0.1 s instead of 1.2 s at 100k chunks); sorted below
        for chunk_id, article_id in db.execute("SELECT id, article_id FROM chunks"):
            owner = articles.get(article_id)
            if owner is not None:
                ids.append(chunk_id)
                owners.append(owner)
        order = np.argsort(np.array(ids, dtype=np.int64), kind="stable")
        pair_list = sorted(pairs)
        return cls(
            np.array(ids, dtype=np.int64)[order],
            np.array(owners, dtype=np.int32)[order],
            np.array(days, dtype=np.int64),
            list(names),
            np.array([a for a, _ in pair_list], dtype=np.int32),
            np.array([o for _, o in pair_list], dtype=np.int32),
        )

    def allowed(self, filters: Filters) -> IdArray:
        """The sorted chunk ids the filters keep (all of them when no filter is set). Undated articles,
        and month-day-only ones, are outside any date range. Results are cached per Filters."""
        if not filters.active:
            return self.chunk_ids
        cached = self._cache.get(filters)
        if cached is None:
            cached = self.chunk_ids[self.chunk_mask(filters)] if len(self.chunk_ids) else self.chunk_ids
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[filters] = cached
        return cached

    def chunk_mask(self, filters: Filters) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """One flag per chunk of `chunk_ids` (sorted by id): does it pass the filters?"""
        keep = np.ones(len(self.article_day), dtype=bool)
        if filters.since is not None or filters.until is not None:
            keep &= self.article_day >= 0
        if filters.since is not None:
            keep &= self.article_day >= filters.since.toordinal()
        if filters.until is not None:
            keep &= self.article_day <= filters.until.toordinal()
        if filters.outlets:
            codes = [i for i, name in enumerate(self.outlet_names) if outlet_matches(name, filters.outlets)]
            by_outlet = np.zeros(len(self.article_day), dtype=bool)
            by_outlet[self.pair_article[np.isin(self.pair_outlet, codes)]] = True
            keep &= by_outlet
        mask: np.ndarray[Any, np.dtype[np.bool_]] = keep[self.chunk_article]
        return mask

    def mask_for(self, doc_chunk_ids: IdArray, filters: Filters) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """One flag per document of another index listing chunk ids in its own order (the BM25 index's
        `chunk_ids`): for `Lexical.search(allowed=...)`. Without a lookup when both list the same ids in
        the same order, as they do when both were read from the catalogue by id."""
        if len(doc_chunk_ids) == len(self.chunk_ids) and np.array_equal(doc_chunk_ids, self.chunk_ids):
            return self.chunk_mask(filters)
        return bm25_allowed_mask(doc_chunk_ids, self.allowed(filters))


def allowed_chunk_ids(db: sqlite3.Connection, filters: Filters) -> IdArray:
    """One-off form of ChunkFacets.load(db).allowed(filters) (loads the facets each call: keep a
    ChunkFacets per open index instead when answering many questions)."""
    return ChunkFacets.load(db).allowed(filters)


# Vector search inside the allowed ids ---------------------------------------------------------------------------
def _selector(allowed_ids: IdArray) -> Any:
    import faiss

    ids = np.ascontiguousarray(allowed_ids, dtype=np.int64)
    # IDSelectorBatch: a hash set with a Bloom-like prefilter; the selector keeps a pointer to nothing of
    # ours (it copies the ids), so `ids` may be freed after construction
    return faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))


def dense_search_filtered(
    index: Any, vector: np.ndarray[Any, Any], k: int, allowed_ids: IdArray
) -> list[tuple[int, float]]:
    """The k best (chunk id, score) among `allowed_ids` in a FAISS index: IndexIDMap2 over a flat index, or
    an IVF index holding the chunk ids. Exactly min(k, allowed) hits: an IVF index whose probed lists hold
    too few allowed vectors is searched again with more lists, up to all of them."""
    import faiss

    n_allowed = len(allowed_ids)
    if n_allowed == 0 or index.ntotal == 0 or k <= 0:
        return []
    query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
    want = min(k, n_allowed, int(index.ntotal))
    selector = _selector(allowed_ids)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        params = faiss.SearchParameters()
        params.sel = selector  # IndexIDMap2 translates it to its internal row numbers (faiss >= 1.7.3)
        scores, ids = index.search(query, want, params=params)
        return _pairs(ids, scores)
    nprobe = max(1, int(ivf.nprobe))
    while True:
        params = faiss.SearchParametersIVF()
        params.sel = selector
        params.nprobe = nprobe  # given params replace the index's own nprobe, so it is passed on
        scores, ids = index.search(query, want, params=params)
        found = _pairs(ids, scores)
        if len(found) >= want or nprobe >= ivf.nlist:
            return found
        nprobe = min(int(ivf.nlist), nprobe * 4)


def _pairs(ids: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


# BM25 inside the allowed ids ----------------------------------------------------------------------------------------
def bm25_allowed_mask(doc_chunk_ids: IdArray, allowed_ids: IdArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """One flag per BM25 document (in document order, `Lexical.chunk_ids`): is its chunk id allowed?
    `allowed_ids` must be sorted (ChunkFacets.allowed returns them so)."""
    if len(allowed_ids) == 0:
        return np.zeros(len(doc_chunk_ids), dtype=bool)
    where = np.searchsorted(allowed_ids, doc_chunk_ids)
    where[where >= len(allowed_ids)] = 0
    mask: np.ndarray[Any, np.dtype[np.bool_]] = allowed_ids[where] == doc_chunk_ids
    return mask


def bm25_weight_mask(doc_chunk_ids: IdArray, allowed_ids: IdArray) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The same as bm25s's `retrieve(weight_mask=...)` wants it: 1.0 allowed, 0.0 not."""
    return bm25_allowed_mask(doc_chunk_ids, allowed_ids).astype(np.float32)


def bm25_search_filtered(lexical: Lexical, query: str, k: int, allowed_ids: IdArray) -> list[tuple[int, float]]:
    """qa.lexical.Lexical search restricted to `allowed_ids` (sorted): (chunk id, BM25 score) best first,
    chunks sharing no term with the query left out, up to k. Only the postings of the query's terms are
    touched (a sparse sum kept where allowed), never an array over all documents: ~1 ms at 100k chunks."""
    chunk_ids = lexical.chunk_ids
    if not len(chunk_ids) or not len(allowed_ids) or k <= 0:
        return []
    data, indices, indptr = lexical.data, lexical.indices, lexical.indptr  # per term: its documents and scores
    terms = np.asarray(lexical.terms(query), dtype=np.int64)  # a repeated word counts again, as in bm25s
    terms = terms[(terms >= 0) & (terms < len(indptr) - 1)]
    if not len(terms):
        return []
    docs = np.concatenate([indices[indptr[t] : indptr[t + 1]] for t in terms]).astype(np.int64)
    weights = np.concatenate([data[indptr[t] : indptr[t + 1]] for t in terms]).astype(np.float64)
    doc_chunks = chunk_ids[docs]
    where = np.searchsorted(allowed_ids, doc_chunks)
    where[where >= len(allowed_ids)] = 0
    keep = allowed_ids[where] == doc_chunks
    if not keep.any():
        return []
    matched, inverse = np.unique(docs[keep], return_inverse=True)
    totals = np.bincount(inverse, weights=weights[keep])
    order = np.argsort(-totals, kind="stable")[:k]
    return [(int(chunk_ids[matched[i]]), float(totals[i])) for i in order if totals[i] > 0]


def bench(n: int = 100_000, dim: int = 384, keep: float = 0.10, k: int = 100, queries: int = 50) -> dict[str, float]:
    """Milliseconds (p50) of a filtered question at n passages: facets -> allowed ids, FAISS IndexIDMap2
    (flat, random normalised vectors) with an IDSelector, and BM25 with a weight mask over synthetic texts.
    Run: python -c "from qa.filters import bench; print(bench())" """
    import inspect
    import time
    from collections import defaultdict

    import faiss

    from qa.lexical import Lexical

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, n + 1, dtype=np.int64)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    index.add_with_ids(vectors, ids)
    articles = n // 5  # five passages an article
    start = date(2015, 1, 1).toordinal()
    facets = ChunkFacets(
        ids,
        (np.arange(n) // 5).astype(np.int32),
        rng.integers(start, start + 3650, articles).astype(np.int64),
        ["Outlet"],
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int32),
    )
    # a date range holding `keep` of the articles (one year in ten, when keep is 0.1)
    filters = Filters(date.fromordinal(start), date.fromordinal(start + int(3650 * keep) - 1))
    vocabulary = [f"w{i}" for i in range(5000)]
    texts = [" ".join(vocabulary[w] for w in row) for row in rng.integers(0, len(vocabulary), (n, 40))]
    lexical = Lexical.build(ids.tolist(), texts)
    timings: dict[str, list[float]] = defaultdict(list)
    for q in range(queries):
        facets._cache.clear()  # a new filter each question: nothing cached
        query = vectors[q] + rng.normal(0, 0.05, dim).astype(np.float32)
        words = " ".join(rng.choice(vocabulary, 6))
        t0 = time.perf_counter()
        allowed = facets.allowed(filters)
        t1 = time.perf_counter()
        dense = dense_search_filtered(index, query, k, allowed)
        t2 = time.perf_counter()
        bm25_search_filtered(lexical, words, k, allowed)
        t3 = time.perf_counter()
        index.search(query.reshape(1, -1), k)
        t4 = time.perf_counter()
        lexical.search(words, k)
        t5 = time.perf_counter()
        if "allowed" in inspect.signature(lexical.search).parameters:  # the Lexical's own mask, to compare
            lexical.search(words, k, allowed=facets.mask_for(lexical.chunk_ids, filters))
            timings["bm25_lexical_mask"].append(time.perf_counter() - t5)
        assert len(dense) == k and np.isin([i for i, _ in dense], allowed).all()
        for name, took in (("allowed", t1 - t0), ("dense", t2 - t1), ("bm25", t3 - t2), ("total", t3 - t0)):
            timings[name].append(took)
        timings["dense_unfiltered"].append(t4 - t3)
        timings["bm25_unfiltered"].append(t5 - t4)
    result = {name: round(float(np.percentile(v, 50)) * 1000, 2) for name, v in timings.items() if v}
    result["kept"] = round(len(facets.allowed(filters)) / n, 3)
    return result
