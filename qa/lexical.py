"""BM25 over chunk texts (bm25s, English stemming and stopwords), saved beside the FAISS index."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from qa.store import BM25_DIR, atomic_write, fsync_dir

IDS_FILE = "chunk_ids.npy"
GENERATION_FILE = "generation"


def _tokenizer():  # type: ignore[no-untyped-def]
    import Stemmer
    from bm25s.tokenization import Tokenizer

    return Tokenizer(stemmer=Stemmer.Stemmer("english").stemWord, stopwords="en")


class Lexical:
    """A BM25 index whose document numbers map to chunk ids."""

    def __init__(self, retriever, tokenizer, chunk_ids: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self.retriever = retriever
        self.tokenizer = tokenizer
        self.chunk_ids = chunk_ids

    @classmethod
    def build(cls, chunk_ids: list[int], texts: list[str]) -> Lexical:
        import bm25s

        tokenizer = _tokenizer()
        tokens = tokenizer.tokenize(texts or [""], return_as="tuple", show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever, tokenizer, np.array(chunk_ids, dtype=np.int64))

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) best first; chunks sharing no term with the query are left out."""
        if not len(self.chunk_ids):
            return []
        tokens = self.tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        if not any(tokens[0]):
            return []
        k = min(k, len(self.chunk_ids))
        # numpy backend: numba would JIT-compile on the first query (seconds, and ~700 MB of memory)
        docs, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1, backend_selection="numpy")
        return [(int(self.chunk_ids[d]), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def save(self, folder: Path, tag: str) -> None:
        """Write into a fresh folder, then swap it in; the generation file is written last."""
        final = folder / BM25_DIR
        tmp = folder / f".{BM25_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.retriever.save(tmp, show_progress=False)
        self.tokenizer.save_vocab(tmp)
        self.tokenizer.save_stopwords(tmp)
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
        atomic_write(final / GENERATION_FILE, json.dumps(tag).encode())
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, tag: str) -> Lexical | None:
        """The saved index if intact and current, else None (the caller rebuilds from the catalogue)."""
        import bm25s

        path = folder / BM25_DIR
        try:
            if json.loads((path / GENERATION_FILE).read_text()) != tag:
                return None
            chunk_ids = np.load(path / IDS_FILE)
            expected = tag.rsplit(":", 2)  # sync.derived_tag ends with the number of chunks
            if len(expected) == 3 and expected[2].isdigit() and len(chunk_ids) != int(expected[2]):
                return None
            retriever = bm25s.BM25.load(path, mmap=True, show_progress=False)
            tokenizer = _tokenizer()
            tokenizer.load_vocab(path)
            tokenizer.load_stopwords(path)
            return cls(retriever, tokenizer, chunk_ids)
        except Exception:  # noqa: BLE001 - damaged files fail in many ways; all mean "rebuild it"
            return None
