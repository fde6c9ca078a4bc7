"""Story groups: syndicated copies, republications and lightly edited versions of one article share a story id."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

# Chosen by measurement (`python eval/stories_measure.py sample`, eval/stories_sample.jsonl): with 4-word
# shingles a copy and its original share J >= 0.61 (other headline, boilerplate, edits, a cut copy) and
# different stories on one topic J <= 0.18 (a recurring event in the agency's template included); the
# closest different paragraphs of the news-quiz corpus share 0.38 (one quoted definition). 0.45 keeps
# both margins beyond the +-0.06 estimation error of 64 permutations. Two copies edited differently
# can fall below it (0.46 in the sample): they group through the original when it is indexed.
SHINGLE = 4  # words per shingle
NUM_PERM = 64  # min-hash values per signature: 256 bytes an article
THRESHOLD = 0.45  # estimated Jaccard of shingle sets at or above which two articles are copies
ROWS = 2  # LSH band width: 32 bands of 2 values find pairs at J = 0.45 with p > 0.9999
BANDS = NUM_PERM // ROWS
SEED = 13
# What a stored signature depends on: keep it in the catalogue settings and recompute signatures
# (about 0.3 ms an article, from articles.text) when it differs.
PARAMS = f"minhash-affine32:k={SHINGLE}:perm={NUM_PERM}:seed={SEED}"
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
    """The article's MinHash over word shingles: NUM_PERM little-endian uint32, stored per article."""
    m = _template().copy()
    m.update_batch(shingles(text))
    return np.asarray(m.hashvalues, dtype="<u4").tobytes()


def to_array(sig: bytes) -> np.ndarray:
    if len(sig) != 4 * NUM_PERM:
        raise ValueError(f"a story signature has {4 * NUM_PERM} bytes, not {len(sig)} (PARAMS changed?)")
    return np.frombuffer(sig, dtype="<u4").astype(np.uint32)


def jaccard(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two articles' shingle sets; 0 when either text is empty."""
    x, y = to_array(a), to_array(b)
    if (x == EMPTY).all() or (y == EMPTY).all():
        return 0.0
    return float(np.mean(x == y))


def _band_keys(sigs: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64: each band's two values side by side, so equal keys mean an equal band."""
    pairs = sigs.reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    return (pairs[:, :, 0] << np.uint64(32)) | pairs[:, :, 1]


class StoryIndex:
    """Story groups over MinHash signatures, updated one article at a time.

    A story is a connected component of the graph "estimated Jaccard >= threshold": the groups do not
    depend on the order articles were added in, so an incremental update and a rebuild agree. Its id
    is the smallest article id among its members (an article alone is its own story). Every change of
    an article's story (joins, merges, splits) is collected until `take_changes()`, so the indexer
    writes only the rows that moved, in its own transaction."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self._ids: list[str] = []  # row -> article id (None-like "" once removed)
        self._row: dict[str, int] = {}
        self._sigs = np.zeros((0, NUM_PERM), dtype=np.uint32)
        self._fresh_sigs: list[np.ndarray] = []
        # base: rows 0.._n_base-1 in sorted band tables; fresh rows in one dict per band
        self._n_base = 0
        self._sorted_keys = np.zeros((BANDS, 0), dtype=np.uint64)
        self._sorted_rows = np.zeros((BANDS, 0), dtype=np.int64)
        self._fresh: list[dict[int, list[int]]] = [{} for _ in range(BANDS)]
        self._story: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}
        self._changes: dict[str, str] = {}

    # building -------------------------------------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]], threshold: float = THRESHOLD) -> StoryIndex:
        """From the catalogue: rows of (article_id, signature) or (article_id, signature, stored story).
        Groups are recomputed from the signatures; a stored story that differs (or is missing) is
        reported by take_changes(), so a catalogue never keeps stale groups."""
        index = cls(threshold)
        ids: list[str] = []
        sigs: list[np.ndarray] = []
        stored: dict[str, str | None] = {}
        for row in rows:
            ids.append(str(row[0]))
            sigs.append(to_array(bytes(row[1])))
            stored[ids[-1]] = row[2] if len(row) > 2 else None
        index._ids = ids
        index._row = {a: i for i, a in enumerate(ids)}
        index._sigs = np.vstack(sigs) if sigs else np.zeros((0, NUM_PERM), dtype=np.uint32)
        index._resort()
        parent = list(range(len(ids)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, j in index._similar_pairs():
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
        groups: dict[int, set[str]] = {}
        for i, a in enumerate(ids):
            groups.setdefault(find(i), set()).add(a)
        for group in groups.values():
            index._set_group(group)
        index._changes = {a: s for a, s in index._story.items() if stored.get(a) != s}
        return index

    def add(self, article_id: str, sig: bytes) -> str:
        """Index an article (a changed one replaces its old signature); its story id is returned. It
        joins every group holding a copy of it, merging them when it bridges two."""
        if article_id in self._row:
            self.remove(article_id)
        vec = to_array(sig)
        matches = self._matches(vec)
        row = len(self._ids)
        self._ids.append(article_id)
        self._row[article_id] = row
        self._fresh_sigs.append(vec)
        keys = _band_keys(vec[None, :])[0]
        for band in range(BANDS):
            self._fresh[band].setdefault(int(keys[band]), []).append(row)
        group = {article_id}
        for story in {self._story[self._ids[m]] for m in matches}:
            group |= self._members[story]
        self._set_group(group)
        if len(self._ids) - self._n_base >= FRESH_LIMIT:
            self._resort()
        return self._story[article_id]

    def remove(self, article_id: str) -> None:
        """Forget an article. Its group is regrouped from the remaining members' similarities: a
        group that it alone held together (A ~ B ~ C, B removed) splits."""
        row = self._row.pop(article_id, None)
        if row is None:
            return
        self._ids[row] = ""
        story = self._story.pop(article_id)
        self._changes.pop(article_id, None)
        rest = self._members.pop(story) - {article_id}
        if not rest:
            return
        order = sorted(rest)
        vecs = np.vstack([self._vector(self._row[a]) for a in order])
        parent = list(range(len(order)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i in range(len(order)):
            similar = np.mean(vecs[i + 1 :] == vecs[i], axis=1) >= self.threshold
            for j in np.nonzero(similar)[0] + i + 1:
                ri, rj = find(i), find(int(j))
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
        groups: dict[int, set[str]] = {}
        for i, a in enumerate(order):
            groups.setdefault(find(i), set()).add(a)
        for group in groups.values():
            self._set_group(group)

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
        for a in group:
            if self._story.get(a) != story:
                self._story[a] = story
                self._changes[a] = story
        for old in {s for s in self._members if s in group and s != story}:
            self._members.pop(old, None)
        self._members[story] = group

    def _vector(self, row: int) -> np.ndarray:
        return self._sigs[row] if row < len(self._sigs) else self._fresh_sigs[row - len(self._sigs)]

    def _matches(self, vec: np.ndarray) -> list[int]:
        """Live rows whose estimated Jaccard with `vec` reaches the threshold."""
        if (vec == EMPTY).all():
            return []
        keys = _band_keys(vec[None, :])[0]
        candidates: set[int] = set()
        for band in range(BANDS):
            key = keys[band]
            column = self._sorted_keys[band]
            lo, hi = np.searchsorted(column, key, "left"), np.searchsorted(column, key, "right")
            candidates.update(self._sorted_rows[band, lo:hi].tolist())
            candidates.update(self._fresh[band].get(int(key), ()))
        live = [r for r in candidates if self._ids[r]]
        if not live:
            return []
        sims = np.mean(np.vstack([self._vector(r) for r in live]) == vec, axis=1)
        return [r for r, s in zip(live, sims) if s >= self.threshold]

    def _resort(self) -> None:
        """Move fresh rows into the sorted band tables, dropping removed rows."""
        if self._fresh_sigs:
            self._sigs = np.vstack([self._sigs, *self._fresh_sigs])
            self._fresh_sigs = []
        live = [i for i, a in enumerate(self._ids) if a]
        if len(live) != len(self._ids):  # compact: row numbers change
            self._ids = [self._ids[i] for i in live]
            self._sigs = self._sigs[live]
            self._row = {a: i for i, a in enumerate(self._ids)}
        keys = _band_keys(self._sigs).T  # (BANDS, n)
        order = np.argsort(keys, axis=1, kind="stable")
        self._sorted_keys = np.take_along_axis(keys, order, axis=1)
        self._sorted_rows = order
        self._n_base = len(self._ids)
        self._fresh = [{} for _ in range(BANDS)]

    def _similar_pairs(self) -> list[tuple[int, int]]:
        """Row pairs sharing a band (sorted tables only) whose estimated Jaccard reaches the threshold."""
        pairs: set[tuple[int, int]] = set()
        for band in range(BANDS):
            column, rows = self._sorted_keys[band], self._sorted_rows[band]
            if len(column) < 2:
                continue
            same = column[1:] == column[:-1]
            starts = np.nonzero(same & ~np.concatenate([[False], same[:-1]]))[0]
            for s in starts:
                e = s + 1
                while e < len(column) and column[e] == column[s]:
                    e += 1
                run = sorted(rows[s:e].tolist())
                pairs.update((run[i], run[j]) for i in range(len(run)) for j in range(i + 1, len(run)))
        if not pairs:
            return []
        ordered = sorted(pairs)
        a = np.array([p[0] for p in ordered])
        b = np.array([p[1] for p in ordered])
        out: list[tuple[int, int]] = []
        for lo in range(0, len(a), 100_000):  # bounded memory for large buckets
            x, y = self._sigs[a[lo : lo + 100_000]], self._sigs[b[lo : lo + 100_000]]
            ok = (np.mean(x == y, axis=1) >= self.threshold) & ~(x == EMPTY).all(axis=1)
            out.extend(zip(a[lo : lo + 100_000][ok].tolist(), b[lo : lo + 100_000][ok].tolist()))
        return out


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
