"""BM25 over chunk texts (bm25s, English stemming and stopwords), saved beside the FAISS index."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from qa.indexformat import BM25_DIR, FreshnessTag
from qa.store import DerivedUnusable, atomic_write, fsync_dir

IDS_FILE = "chunk_ids.npy"
GENERATION_FILE = "generation"
CSC_ARRAYS = ("data", "indices", "indptr")  # bm25s's saved score matrix


WORDS = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default splitter: the same words at index and query time


def tokenizer() -> Any:
    """The BM25 tokenizer used at index time: lower-cased words, English stopwords removed, Snowball-stemmed."""
    import Stemmer
    from bm25s.tokenization import Tokenizer

    return Tokenizer(stemmer=Stemmer.Stemmer("english").stemWord, stopwords="en", splitter=WORDS.pattern)


class Lexical:
    """A BM25 index whose document numbers map to chunk ids. bm25s builds and saves it; questions are
    scored here from its saved arrays with numpy, because importing bm25s loads scipy (and numba when
    installed): 0.25-0.5 s of every cold start for a few array additions."""

    def __init__(
        self,
        scores: tuple[np.ndarray, np.ndarray, np.ndarray],
        vocab: dict[str, int],
        stopwords: frozenset[str],
        chunk_ids: np.ndarray,
        built: Any = None,
    ) -> None:
        self.data, self.indices, self.indptr = scores  # a CSC matrix: per term, its documents and scores
        self.vocab = vocab  # stem -> term number
        self.stopwords = stopwords
        self.chunk_ids = chunk_ids
        self._built = built  # the bm25s objects a fresh build saves with

    @classmethod
    def build(cls, chunk_ids: list[int], texts: list[str], k1: float = 1.5, b: float = 0.75) -> Lexical:
        """k1 and b: bm25s's defaults (Lucene's BM25), which SciFact did not improve on (eval/README.md)."""
        import bm25s

        words = tokenizer()
        tokens = words.tokenize(texts or [""], return_as="tuple", show_progress=False)
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(tokens, show_progress=False)
        arrays = (retriever.scores["data"], retriever.scores["indices"], retriever.scores["indptr"])
        stopwords = frozenset(words.stopwords or ())
        ids = np.array(chunk_ids, dtype=np.int64)
        return cls(arrays, dict(retriever.vocab_dict), stopwords, ids, built=(retriever, words))

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    def document_frequency(self, stems: Iterable[str]) -> dict[str, int]:
        """Chunks holding each stem (0: none); BM25's own stopwords are left out. The stems are the
        Snowball English ones the index uses, so the answer model's stems look up directly."""
        out = {}
        for stem in stems:
            if stem in self.stopwords:
                continue
            term = self.vocab.get(stem)
            out[stem] = int(self.indptr[term + 1] - self.indptr[term]) if term is not None else 0
        return out

    def terms(self, query: str) -> list[int]:
        """The query's term numbers, as bm25s's tokenizer makes them; words the index never saw are dropped."""
        stem = _stemmer()
        out = []
        for word in WORDS.findall(query.lower()):
            if word not in self.stopwords:
                term = self.vocab.get(stem(word))
                if term is not None:
                    out.append(term)
        return out

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) best first; chunks sharing no term with the query are left out.
        `allowed`: a boolean mask over documents (filters): the k best among those."""
        terms = self.terms(query)
        if not len(self.chunk_ids) or not terms:
            return []
        scores = np.zeros(len(self.chunk_ids), dtype=np.float32)
        for term in terms:  # a repeated word counts again, as in bm25s
            start, end = self.indptr[term], self.indptr[term + 1]
            np.add.at(scores, self.indices[start:end], self.data[start:end])
        if allowed is not None:
            scores[~allowed] = 0.0
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.chunk_ids[d]), float(scores[d])) for d in top if scores[d] > 0]

    def save(self, folder: Path, tag: FreshnessTag) -> None:
        """Write into a fresh folder, then swap it in; the generation file is written last."""
        final = folder / BM25_DIR
        tmp = folder / f".{BM25_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._built is None:
            raise ValueError("only a freshly built BM25 index is saved")
        retriever, words = self._built
        retriever.save(tmp, show_progress=False)
        words.save_vocab(tmp)
        words.save_stopwords(tmp)
        np.save(tmp / IDS_FILE, self.chunk_ids)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        old = folder / f".{BM25_DIR}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        fsync_dir(folder)
        atomic_write(final / GENERATION_FILE, json.dumps(str(tag)).encode())
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, tag: FreshnessTag) -> Lexical:
        """The saved index built from the catalogue state `tag`; raises DerivedUnusable when it is
        missing, out of date or damaged (the caller rebuilds it from the catalogue)."""
        path = folder / BM25_DIR
        try:
            written = FreshnessTag.parse(json.loads((path / GENERATION_FILE).read_text()))
        except FileNotFoundError:
            raise DerivedUnusable("the BM25 index is missing") from None
        except (OSError, ValueError, TypeError, AttributeError) as e:
            raise DerivedUnusable(f"the BM25 index is damaged ({e})", damaged=True) from e
        if written != tag:
            raise DerivedUnusable("the BM25 index is out of date")
        try:
            chunk_ids = np.load(path / IDS_FILE)
            data, indices, indptr = (np.load(path / f"{n}.csc.index.npy", mmap_mode="r") for n in CSC_ARRAYS)
            vocab = json.loads((path / "vocab.index.json").read_text())
            stopwords = frozenset(json.loads((path / "stopwords.tokenizer.json").read_text()))
        except Exception as e:  # damaged files fail in many ways (numpy, json, mmap): all mean "rebuild"
            raise DerivedUnusable(f"the BM25 index is damaged ({str(e).splitlines()[0][:100]})", damaged=True) from e
        if len(chunk_ids) != tag.chunks:
            raise DerivedUnusable(f"the BM25 index holds {len(chunk_ids)} passages, not {tag.chunks}", damaged=True)
        return cls((data, indices, indptr), vocab, stopwords, chunk_ids)


@functools.cache
def _stemmer() -> Callable[[str], str]:
    import Stemmer

    stem: Callable[[str], str] = Stemmer.Stemmer("english").stemWord
    return stem
