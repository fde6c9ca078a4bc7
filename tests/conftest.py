"""Shared fixtures: the real model and a seed index are built once per test session."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "qa" / "seeds"
DATA = Path(__file__).resolve().parent / "data"


class HashEmbedder:
    """Deterministic stand-in for bookkeeping tests (sync, store): words hashed into a vector.
    Counts how many texts it embedded, so tests can assert what was (not) re-embedded."""

    name = "test-hash-embedder"
    dim = 32
    max_tokens = 60

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def index_settings(self):
        return {"model": self.name, "dimension": self.dim, "max_tokens": self.max_tokens}

    def prepare(self):
        return None

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for w in text.lower().split():
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1
        return v / max(np.linalg.norm(v), 1e-6)

    def encode(self, texts, progress=None):
        self.embedded.extend(texts)
        if progress:
            progress(len(texts), len(texts))
        return np.vstack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts):
        return self.encode(texts)


class Interrupting(HashEmbedder):
    """Dies like ctrl+c after embedding `after` batches."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def encode(self, texts, progress=None):
        if self.after == 0:
            raise KeyboardInterrupt
        self.after -= 1
        return super().encode(texts, progress)


def ids_agree(index: Path) -> bool:
    """Catalogue and FAISS hold exactly the same chunk ids: nothing duplicated or orphaned."""
    from qa.retrieve import Retriever
    from qa.store import Catalog

    catalog = Catalog(index)
    ids = [r[0] for r in catalog.db.execute("SELECT id FROM chunks")]
    catalog.close()
    r = Retriever(index, HashEmbedder())
    faiss_ids = sorted(int(r.faiss.id_map.at(i)) for i in range(r.faiss.ntotal))
    r.close()
    return sorted(ids) == faiss_ids and len(set(ids)) == len(ids)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """The exported model goes to a cache of this session, not the user's (exported once per run)."""
    os.environ["QA_CACHE"] = str(tmp_path_factory.mktemp("qa-cache"))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test touches the user's index, data folder or corpus by accident."""
    monkeypatch.setenv("QA_INDEX", str(tmp_path_factory.mktemp("default-index")))
    monkeypatch.setenv("QA_HOME", str(tmp_path_factory.mktemp("qa-home")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    from qa.embed import ModelEmbedder

    return ModelEmbedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seeds")
    for f in SEEDS.iterdir():
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, seed_corpus, embedder) -> Path:
    """The seeds indexed once with the real model; tests must not modify it (copy it first)."""
    from qa.sync import Indexer

    folder = tmp_path_factory.mktemp("seed-index")
    Indexer(seed_corpus, folder, embedder).run()
    return folder


@pytest.fixture(scope="session")
def retriever(seed_index, embedder):
    from qa.retrieve import Retriever

    return Retriever(seed_index, embedder)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()
