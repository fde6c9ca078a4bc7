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
# quoting one definition (J = 0.27-0.38 in the news-quiz corpus) with 64-128 permutations' error. The
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
SIGNATURE_BYTES = 4 * (NUM_PERM + 1)  # the shingle count, then the min-hash values (little-endian uint32)
EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's value for "no shingle": an empty text matches nothing
FRESH_LIMIT = 8192  # articles added since the last re-sort of the band tables (kept in dicts meanwhile)

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


def _band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64: each band's two values side by side, so equal keys mean an equal band."""
    pairs = sigs[:, : BANDS * ROWS].reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    return (pairs[:, :, 0] << np.uint64(32)) | pairs[:, :, 1]


class StoryIndex:
    """Story groups over MinHash signatures, updated one article at a time.

    A story is a connected component of the graph "is a copy of" (see _copies): the groups do not
    depend on the order articles were added in, so an incremental update and a rebuild agree. Its id
    is the smallest article id among its members (an article alone is its own story). Every change of
    an article's story (joins, merges, splits) is collected until `take_changes()`, so the indexer
    writes only the rows that moved, in its own transaction."""

    def __init__(self) -> None:
        self._ids: list[str] = []  # row -> article id ("" once removed)
        self._row: dict[str, int] = {}
        self._sigs = np.zeros((0, NUM_PERM), dtype=np.uint32)  # rows in the sorted band tables
        self._sizes = np.zeros(0, dtype=np.int64)
        self._fresh_sigs: list[np.ndarray] = []  # rows added since, found through dicts
        self._fresh_sizes: list[int] = []
        self._sorted_keys = np.zeros((BANDS, 0), dtype=np.uint64)
        self._sorted_rows = np.zeros((BANDS, 0), dtype=np.int64)
        self._fresh: list[dict[int, list[int]]] = [{} for _ in range(BANDS)]
        self._story: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}
        self._changes: dict[str, str] = {}

    # building -------------------------------------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> StoryIndex:
        """From the catalogue: rows of (article_id, signature) or (article_id, signature, stored story).
        Groups are recomputed from the signatures; a stored story that differs (or is missing) is
        reported by take_changes(), so a catalogue never keeps stale groups."""
        index = cls()
        sigs: list[np.ndarray] = []
        sizes: list[int] = []
        stored: dict[str, str | None] = {}
        for row in rows:
            size, vec = split(bytes(row[1]))
            index._ids.append(str(row[0]))
            sigs.append(vec)
            sizes.append(size)
            stored[str(row[0])] = row[2] if len(row) > 2 else None
        index._row = {a: i for i, a in enumerate(index._ids)}
        if sigs:
            index._sigs, index._sizes = np.vstack(sigs), np.array(sizes, dtype=np.int64)
        index._resort()
        for group in _components(len(index._ids), index._copy_pairs()):
            index._set_group({index._ids[i] for i in group})
        index._changes = {a: s for a, s in index._story.items() if stored.get(a) != s}
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
        for band, key in enumerate(_band_keys(vec[None, :])[0].tolist()):
            self._fresh[band].setdefault(key, []).append(row)
        group = {article_id}
        for story in {self._story[self._ids[m]] for m in matches}:
            group |= self._members[story]
        self._set_group(group)
        if len(self._fresh_sigs) >= FRESH_LIMIT:
            self._resort()
        return self._story[article_id]

    def remove(self, article_id: str) -> None:
        """Forget an article. Its group is regrouped from the remaining members' signatures: a group
        that it alone held together (A ~ B ~ C, B removed) splits, each part under its own id."""
        row = self._row.pop(article_id, None)
        if row is None:
            return
        self._ids[row] = ""
        self._changes.pop(article_id, None)
        rest = sorted(self._members.pop(self._story.pop(article_id)) - {article_id})
        if not rest:
            return
        rows = [self._row[a] for a in rest]
        vecs = np.vstack([self._vector(r) for r in rows])
        sizes = np.array([self._size(r) for r in rows], dtype=np.int64)
        pairs = [
            (i, int(j))
            for i in range(len(rest))
            for j in np.nonzero(_copies(vecs[i], int(sizes[i]), vecs[i + 1 :], sizes[i + 1 :]))[0] + i + 1
        ]
        for group in _components(len(rest), pairs):
            self._set_group({rest[i] for i in group})

    # reading --------------------------------------------------------------------------------------
    def story_of(self, article_id: str) -> str | None:
        return self._story.get(article_id)

    def members(self, story_id: str) -> list[str]:
        """The articles of a story, sorted by id (empty for an unknown story)."""
        return sorted(self._members.get(story_id, ()))

    def groups(self) -> int:
        """Stories with more than one article: what `qa index` reports as grouped."""
        return sum(len(m) > 1 for m in self._members.values())

    def __len__(self) -> int:
        return len(self._row)

    def take_changes(self) -> dict[str, str]:
        """{article_id: story_id} for every article whose story was set or changed since the last call
        (removed articles are not in it: their rows go)."""
        changes, self._changes = self._changes, {}
        return changes

    # internals ------------------------------------------------------------------------------------
    def _set_group(self, group: set[str]) -> None:
        story = min(group)
        for old in {self._story.get(a) for a in group} - {None, story}:
            if self._members.get(str(old), set()) <= group:  # merged away (a split part keeps its own)
                self._members.pop(str(old), None)
        for a in group:
            if self._story.get(a) != story:
                self._story[a] = story
                self._changes[a] = story
        self._members[story] = group

    def _vector(self, row: int) -> np.ndarray:
        n = len(self._sigs)
        return self._sigs[row] if row < n else self._fresh_sigs[row - n]

    def _size(self, row: int) -> int:
        n = len(self._sizes)
        return int(self._sizes[row]) if row < n else self._fresh_sizes[row - n]

    def _matches(self, vec: np.ndarray, size: int) -> list[int]:
        """Live rows that are copies of the article with this signature."""
        if size == 0:
            return []
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

    def _resort(self) -> None:
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
        keys = _band_keys(self._sigs).T  # (BANDS, n)
        order = np.argsort(keys, axis=1, kind="stable")
        self._sorted_keys = np.take_along_axis(keys, order, axis=1)
        self._sorted_rows = order
        self._fresh = [{} for _ in range(BANDS)]

    def _copy_pairs(self) -> list[tuple[int, int]]:
        """Row pairs (sorted tables only) that share a band and are copies."""
        pairs: set[tuple[int, int]] = set()
        for band in range(BANDS):
            column, rows = self._sorted_keys[band], self._sorted_rows[band]
            if len(column) < 2:
                continue
            same = np.nonzero(column[1:] == column[:-1])[0]  # i: keys i and i+1 share a bucket
            if not len(same):
                continue
            breaks = np.nonzero(np.diff(same) != 1)[0] + 1
            for run in np.split(same, breaks):  # one run per bucket holding two or more rows
                members = sorted(rows[run[0] : run[-1] + 2].tolist())
                pairs.update(itertools.combinations(members, 2))
        if not pairs:
            return []
        a, b = np.array(sorted(pairs)).T
        out: list[tuple[int, int]] = []
        for lo in range(0, len(a), 50_000):  # bounded memory when many pairs share buckets
            x, y = a[lo : lo + 50_000], b[lo : lo + 50_000]
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
