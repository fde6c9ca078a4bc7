"""Story groups: syndicated copies, republications and lightly edited versions of one article share a story id."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

# Chosen by measurement (`python eval/stories_measure.py sample`, eval/stories_sample.jsonl). Jaccard alone
# cannot tell a copy with a disclaimer added and its lead reworded (J = 0.47-0.53) from two paragraphs
# quoting one definition (J = 0.27-0.38 in the news-quiz corpus) within a MinHash estimate's error. The
# share of the smaller article found in the other (containment) can: copies >= 0.69, different stories
# on one topic <= 0.38 (an agency's template for a recurring event included). A pair is a copy when
# containment >= 0.6 and Jaccard >= 0.3 (so a short brief quoted whole inside a long roundup is not).
SHINGLE = 4  # words per shingle
NUM_PERM = 128  # min-hash values per signature (+-0.04 on Jaccard near 0.5)
MIN_CONTAINMENT = 0.6
MIN_JACCARD = 0.3
ROWS = 2  # LSH bands of 2 values over the first 96: a pair at J = 0.3 is a candidate with p = 0.99
BANDS = 48
SEED = 13
# What a stored signature depends on: keep it in the catalogue settings and recompute signatures
# (under 1 ms an article, from articles.text) when it differs.
PARAMS = f"minhash-affine32:k={SHINGLE}:perm={NUM_PERM}:seed={SEED}"
# What stored story ids depend on: when it differs, load with StoryIndex.from_rows(rows, verify=True).
GROUPING = f"{PARAMS}:containment>={MIN_CONTAINMENT}:jaccard>={MIN_JACCARD}"
SIGNATURE_BYTES = 4 * (NUM_PERM + 1)  # the shingle count, then the min-hash values (little-endian uint32)
FRESH_LIMIT = 4096  # articles added since the last re-sort of the band tables (in dicts meanwhile: ~30 MB)
BRUTE_FORCE_LIMIT = 64  # articles added to a loaded index before band tables pay off

# Chinese and Japanese write no spaces: each character is a word, as in qa.boilerplate.
TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")


def shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    """The text's k-word shingles, lower-cased, punctuation ignored (quotes and dashes vary by outlet)."""
    words = TOKEN.findall(text.lower())
    if len(words) < k:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


@lru_cache(maxsize=1)
def _template() -> Any:
    # datasketch is imported by the indexer only (its package import loads scipy: about 1 s)
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32")


def signature(text: str) -> bytes:
    """The article's MinHash over word shingles (SIGNATURE_BYTES bytes), stored per article."""
    grams = shingles(text)
    m = _template().copy()
    m.update_batch(grams)
    values = np.concatenate([[len(grams)], np.asarray(m.hashvalues)]).astype("<u4")
    return bytes(values.tobytes())


def split(sig: bytes) -> tuple[int, np.ndarray]:
    """(shingle count, min-hash values) of a stored signature."""
    if len(sig) != SIGNATURE_BYTES:
        raise ValueError(f"a story signature has {SIGNATURE_BYTES} bytes, not {len(sig)} (PARAMS changed?)")
    values = np.frombuffer(sig, dtype="<u4").astype(np.uint32)
    return int(values[0]), values[1:]


def _copies(vec: np.ndarray, size: int, others: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Which rows of `others` are copies of `vec` (see MIN_CONTAINMENT and MIN_JACCARD)."""
    return _pair_copies(others, sizes, vec[None, :], np.full(len(others), size, dtype=np.int64))


def similarity(a: bytes, b: bytes) -> tuple[float, float]:
    """(estimated Jaccard, estimated containment of the smaller in the larger) of two articles."""
    (na, x), (nb, y) = split(a), split(b)
    if not na or not nb:
        return 0.0, 0.0
    j = float(np.mean(x == y))
    return j, j * (na + nb) / (1 + j) / min(na, nb)


def is_copy(a: bytes, b: bytes) -> bool:
    """Are two articles copies of one story (by their signatures)?"""
    na, x = split(a)
    nb, y = split(b)
    return bool(_copies(x, na, y[None, :], np.array([nb]))[0])


def _band_keys(sigs: np.ndarray, bands: int = BANDS) -> np.ndarray:
    """(n, bands) uint64: each band's two values side by side, so equal keys mean an equal band."""
    pairs = sigs[:, : bands * ROWS].reshape(len(sigs), bands, ROWS).astype(np.uint64)
    return (pairs[:, :, 0] << np.uint64(32)) | pairs[:, :, 1]


class StoryIndex:
    """Story groups over MinHash signatures, updated one article at a time.

    A story is a connected component of the graph "is a copy of" (see _copies): the groups do not
    depend on the order articles were added in, so an incremental update and a rebuild agree. Its id
    is the smallest article id among its members; an article alone is its own story (and costs no
    group bookkeeping). Every change of an article's story (new articles, joins, merges, splits) is
    collected until `take_changes()`, so the indexer writes only the rows that moved, in its own
    transaction.

    In the indexer: `StoryIndex.from_rows(SELECT id, minhash, story FROM articles)` once per run that
    changes something; per new or changed article `add(id, signature(text))`, per removed one
    `remove(id)`; before each commit `UPDATE articles SET story = ? WHERE id = ?` for every item of
    `take_changes()`. A rolled-back transaction leaves this object ahead of the catalogue: drop it."""

    def __init__(self) -> None:
        self._ids: list[str] = []  # row -> article id ("" once removed)
        self._row: dict[str, int] = {}
        self._sigs = np.zeros((0, NUM_PERM), dtype=np.uint32)  # rows 0..n-1, then the fresh ones
        self._sizes = np.zeros(0, dtype=np.int64)
        self._fresh_sigs: list[np.ndarray] = []
        self._fresh_sizes: list[int] = []
        self._tables = False  # band tables over self._sigs built (lazily: one article is cheaper without)
        self._sorted_keys = np.zeros((BANDS, 0), dtype=np.uint64)
        self._sorted_rows = np.zeros((BANDS, 0), dtype=np.int32)
        self._fresh: list[dict[int, list[int]]] = [{} for _ in range(BANDS)]
        self._story: dict[str, str] = {}  # members of groups of two or more only
        self._members: dict[str, set[str]] = {}  # groups of two or more only
        self._changes: dict[str, str] = {}

    # building -------------------------------------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]], verify: bool = False) -> StoryIndex:
        """From the catalogue: rows of (article_id, signature) or (article_id, signature, stored story).
        When every row has a stored story (and not `verify`) the groups are taken from them: an
        incremental run starts in about a second at 100k articles. Otherwise they are computed from the
        signatures, and each row whose stored story differs is reported by take_changes()."""
        index = cls()
        buffer = bytearray()  # one copy of the signatures however the rows come (a cursor streams them)
        stored: list[str | None] = []
        for row in rows:
            if len(row[1]) != SIGNATURE_BYTES:
                raise ValueError(f"a story signature has {SIGNATURE_BYTES} bytes, not {len(row[1])} (PARAMS changed?)")
            index._ids.append(str(row[0]))
            buffer += row[1]
            stored.append(row[2] if len(row) > 2 else None)
        index._row = {a: i for i, a in enumerate(index._ids)}
        if stored:
            values = np.frombuffer(buffer, dtype="<u4").reshape(len(stored), NUM_PERM + 1)
            index._sizes = values[:, 0].astype(np.int64)
            index._sigs = values[:, 1:].astype(np.uint32)
            del values, buffer
        if stored and not verify and all(s is not None for s in stored):
            by_story: dict[str, set[str]] = {}
            for a, story in zip(index._ids, stored):
                by_story.setdefault(str(story), set()).add(a)
            for members in by_story.values():
                if len(members) > 1:
                    index._set_group(members)
            index._changes = {}
            return index
        index._build_tables()
        for group in _components(len(index._ids), index._copy_pairs()):
            if len(group) > 1:
                index._set_group({index._ids[i] for i in group})
        index._changes = {a: index._story.get(a, a) for a, s in zip(index._ids, stored) if s != index._story.get(a, a)}
        return index

    def add(self, article_id: str, sig: bytes) -> str:
        """Index an article (a changed one replaces its old signature); its story id is returned. It
        joins every group holding a copy of it, merging them when it bridges two."""
        if article_id in self._row:
            self.remove(article_id)
        size, vec = split(sig)
        matches = self._matches(vec, size)
        row = len(self._ids)
        self._ids.append(article_id)
        self._row[article_id] = row
        self._fresh_sigs.append(vec)
        self._fresh_sizes.append(size)
        if self._tables:
            for band, key in enumerate(_band_keys(vec[None, :])[0].tolist()):
                self._fresh[band].setdefault(key, []).append(row)
        group = {article_id}
        for m in matches:
            group |= self._group(self._ids[m])
        self._set_group(group)
        story = self._story.get(article_id, article_id)
        self._changes[article_id] = story  # a new row needs its story written even when alone
        if len(self._fresh_sigs) >= (FRESH_LIMIT if self._tables else BRUTE_FORCE_LIMIT):
            self._build_tables()
        return story

    def remove(self, article_id: str) -> None:
        """Forget an article. Its group is regrouped from the remaining members' signatures: a group
        that it alone held together (A ~ B ~ C, B removed) splits, each part under its own id."""
        row = self._row.pop(article_id, None)
        if row is None:
            return
        self._ids[row] = ""
        self._changes.pop(article_id, None)
        story = self._story.pop(article_id, article_id)
        rest = sorted(self._members.pop(story, {article_id}) - {article_id})
        for a in rest:  # regrouped below, each part from scratch
            self._story.pop(a, None)
        rows = [self._row[a] for a in rest]
        vecs = np.vstack([self._vector(r) for r in rows]) if rows else np.zeros((0, NUM_PERM), dtype=np.uint32)
        sizes = np.array([self._size(r) for r in rows], dtype=np.int64)
        pairs = [
            (i, int(j))
            for i in range(len(rest))
            for j in np.nonzero(_copies(vecs[i], int(sizes[i]), vecs[i + 1 :], sizes[i + 1 :]))[0] + i + 1
        ]
        for group in _components(len(rest), pairs):
            part = {rest[i] for i in group}
            self._set_group(part)
            for a in part:
                if self._story.get(a, a) != story:
                    self._changes[a] = self._story.get(a, a)

    # reading --------------------------------------------------------------------------------------
    def story_of(self, article_id: str) -> str | None:
        return self._story.get(article_id, article_id) if article_id in self._row else None

    def members(self, story_id: str) -> list[str]:
        """The articles of a story, sorted by id (empty for an unknown story)."""
        return sorted(self._group(story_id)) if story_id in self._row or story_id in self._members else []

    def groups(self) -> int:
        """Stories with more than one article: what `qa index` reports as grouped."""
        return len(self._members)

    def __len__(self) -> int:
        return len(self._row)

    def take_changes(self) -> dict[str, str]:
        """{article_id: story_id} for every article added, or whose story changed, since the last call
        (removed articles are not in it: their rows go)."""
        changes, self._changes = self._changes, {}
        return changes

    # internals ------------------------------------------------------------------------------------
    def _group(self, article_id: str) -> set[str]:
        story = self._story.get(article_id, article_id)
        return set(self._members.get(story, {story}))

    def _set_group(self, group: set[str]) -> None:
        """Make these articles one story (they are whole groups, or the parts of a split one)."""
        story = min(group)
        for old in {self._story.get(a, a) for a in group} - {story}:
            self._members.pop(old, None)
        for a in group:
            if self._story.get(a, a) != story:
                self._changes[a] = story
            if len(group) > 1:
                self._story[a] = story
        if len(group) > 1:
            self._members[story] = group

    def _vector(self, row: int) -> np.ndarray:
        n = len(self._sigs)
        return self._sigs[row] if row < n else self._fresh_sigs[row - n]

    def _size(self, row: int) -> int:
        n = len(self._sizes)
        return int(self._sizes[row]) if row < n else self._fresh_sizes[row - n]

    def _matches(self, vec: np.ndarray, size: int) -> list[int]:
        """Live rows that are copies of the article with this signature."""
        if size == 0 or not self._ids:
            return []
        if not self._tables:  # compare with every row: about 10 ms at 100k articles
            rows = np.nonzero(_copies(vec, size, self._sigs, self._sizes))[0].tolist()
            if self._fresh_sigs:
                fresh = _copies(vec, size, np.vstack(self._fresh_sigs), np.array(self._fresh_sizes, dtype=np.int64))
                rows += (np.nonzero(fresh)[0] + len(self._sigs)).tolist()
            return [r for r in rows if self._ids[r]]
        candidates: set[int] = set()
        for band, key in enumerate(_band_keys(vec[None, :])[0]):
            column = self._sorted_keys[band]
            lo, hi = np.searchsorted(column, key, "left"), np.searchsorted(column, key, "right")
            candidates.update(self._sorted_rows[band, lo:hi].tolist())
            candidates.update(self._fresh[band].get(int(key), ()))
        live = [r for r in candidates if self._ids[r]]
        if not live:
            return []
        vecs = np.vstack([self._vector(r) for r in live])
        sizes = np.array([self._size(r) for r in live], dtype=np.int64)
        return [r for r, ok in zip(live, _copies(vec, size, vecs, sizes)) if ok]

    def _build_tables(self) -> None:
        """Move fresh rows into the sorted band tables, dropping removed rows (row numbers change)."""
        if self._fresh_sigs:
            self._sigs = np.vstack([self._sigs, *self._fresh_sigs])
            self._sizes = np.concatenate([self._sizes, np.array(self._fresh_sizes, dtype=np.int64)])
            self._fresh_sigs, self._fresh_sizes = [], []
        live = [i for i, a in enumerate(self._ids) if a]
        if len(live) != len(self._ids):
            self._ids = [self._ids[i] for i in live]
            self._sigs, self._sizes = self._sigs[live], self._sizes[live]
            self._row = {a: i for i, a in enumerate(self._ids)}
        n = len(self._sigs)
        self._fresh = [{} for _ in range(BANDS)]
        self._sorted_keys = np.empty((BANDS, n), dtype=np.uint64)  # the old tables go first: less peak
        self._sorted_rows = np.empty((BANDS, n), dtype=np.int32)
        for band in range(BANDS):  # a band at a time: no (n, 96) uint64 temporaries
            keys = _band_keys(self._sigs[:, band * ROWS : (band + 1) * ROWS], 1)[:, 0]
            order = np.argsort(keys)
            self._sorted_keys[band] = keys[order]
            self._sorted_rows[band] = order
        self._tables = True

    def _copy_pairs(self) -> list[tuple[int, int]]:
        """Row pairs (sorted tables only) that share a band and are copies."""
        n = len(self._ids)
        found: list[np.ndarray] = []
        for band in range(BANDS):
            column, rows = self._sorted_keys[band], self._sorted_rows[band].astype(np.int64)
            same = np.nonzero(column[1:] == column[:-1])[0]  # i: keys i and i+1 share a bucket
            if not len(same):
                continue
            # a bucket of two (nearly all): one pair, vectorised; larger buckets: every pair in them
            alone = np.ones(len(same), dtype=bool)
            alone[1:] &= np.diff(same) != 1
            alone[:-1] &= np.diff(same) != 1
            a, b = rows[same[alone]], rows[same[alone] + 1]
            found.append(np.minimum(a, b) * n + np.maximum(a, b))
            runs = same[~alone]
            for run in np.split(runs, np.nonzero(np.diff(runs) != 1)[0] + 1) if len(runs) else ():
                members = sorted(rows[run[0] : run[-1] + 2].tolist())
                found.append(np.array([x * n + y for x, y in itertools.combinations(members, 2)], dtype=np.int64))
        if not found:
            return []
        keys = np.unique(np.concatenate(found))
        out: list[tuple[int, int]] = []
        for lo in range(0, len(keys), 50_000):  # bounded memory when many pairs share buckets
            x, y = np.divmod(keys[lo : lo + 50_000], n)
            ok = _pair_copies(self._sigs[x], self._sizes[x], self._sigs[y], self._sizes[y])
            out.extend(zip(x[ok].tolist(), y[ok].tolist()))
        return out


def _pair_copies(xs: np.ndarray, nx: np.ndarray, ys: np.ndarray, ny: np.ndarray) -> np.ndarray:
    """Row-wise _copies for pairs of signatures."""
    j = np.mean(xs == ys, axis=1)
    shared = j * (nx + ny) / (1 + j)  # |A n B| from J = |A n B| / |A u B|
    containment = shared / np.maximum(np.minimum(nx, ny), 1)
    ok: np.ndarray = (j >= MIN_JACCARD) & (containment >= MIN_CONTAINMENT) & (nx > 0) & (ny > 0)
    return ok


def _components(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of n nodes linked by pairs (union-find)."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


# representative ---------------------------------------------------------------------------------------
WIRE_AGENCIES = (
    "Xinhua", "AP", "Associated Press", "Reuters", "AFP", "Agence France-Presse", "TASS", "Kyodo", "Yonhap",
    "dpa", "PTI", "IANS", "ANI", "UPI", "EFE", "ANSA", "Bernama", "Anadolu", "Press Association", "PA Media",
)  # fmt: skip
_AGENCY = "|".join(re.escape(a) for a in sorted(WIRE_AGENCIES, key=len, reverse=True))
# "(Xinhua) --", "BEIJING (Reuters) -", "Source: Xinhua", "— AFP", "The Associated Press contributed"
AGENCY_CREDIT = re.compile(
    rf"\((?:{_AGENCY})\)|(?im:^(?:source|via|credit)\s*[:：]\s*(?:{_AGENCY})\b)|[—–-]\s*(?:{_AGENCY})\s*$"
    rf"|\b(?:{_AGENCY}) contributed\b|\b(?:Copyright|©).{{0,12}}\b(?:The )?(?:{_AGENCY})\b",
    re.M,
)
_AGENCY_NAME = re.compile(rf"^(?:the )?(?:{_AGENCY})(?: news agency)?$", re.I)


@dataclass
class ArticleInfo:
    """What choosing a story's representative needs of each copy."""

    id: str
    date: str | None = None  # ISO yyyy-mm-dd
    outlet: str | None = None
    text: str = ""  # the article text (its first 2,000 characters are read)


def names_wire_agency(info: ArticleInfo) -> bool:
    """The copy is the agency's own or credits one as its source (a dateline "(Xinhua)", "Source: AP")."""
    if info.outlet and _AGENCY_NAME.match(info.outlet.strip()):
        return True
    return bool(AGENCY_CREDIT.search(info.text[:2000]))


def representative(members: Sequence[ArticleInfo]) -> str:
    """The copy to show for a story: one naming a wire agency as its source before others (the agency's
    own outlet first), then the earliest-dated, then the smallest id (so the choice is stable)."""
    if not members:
        raise ValueError("a story has at least one article")

    def rank(info: ArticleInfo) -> tuple[bool, bool, bool, str, str]:
        own = bool(info.outlet and _AGENCY_NAME.match(info.outlet.strip()))
        return (not names_wire_agency(info), not own, info.date is None, info.date or "", info.id)

    return min(members, key=rank).id
