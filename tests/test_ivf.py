"""Above the size threshold the vector index is IVF with nprobe chosen for recall@10 >= 0.95."""

from __future__ import annotations

import numpy as np

from qa.ivf import TARGET_RECALL, build_ivf, exact_top, probe_queries
from qa.store import build_faiss


def clustered(n: int, dim: int = 32, clusters: int = 50, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + rng.normal(scale=0.6, size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_top_matches_brute_force():
    x = clustered(3000)
    q = probe_queries(x, 20)
    expected = np.argsort(-(q @ x.T), axis=1)[:, :10]
    got = exact_top(x, q, 10)
    assert all(set(a) == set(b) for a, b in zip(got, expected))


def test_ivf_reaches_target_recall_with_ids():
    x = clustered(20000)
    ids = np.arange(20000, dtype=np.int64) * 7 + 3  # ids that are not row numbers
    index, choice = build_ivf(ids, x, x.shape[1])
    assert choice.recall_at_10 >= TARGET_RECALL and 1 <= choice.nprobe < choice.nlist
    q = probe_queries(x, 100, seed=5)  # fresh queries, not the ones nprobe was tuned on
    _, found = index.search(q, 10)
    truth = ids[exact_top(x, q, 10)]
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    assert recall >= TARGET_RECALL - 0.03


def test_build_faiss_switches_to_ivf_above_the_threshold():
    import faiss

    x = clustered(3000)
    ids = np.arange(3000, dtype=np.int64)
    assert isinstance(build_faiss(ids, x, 32, ivf_min=5000), faiss.IndexIDMap2)
    ivf = build_faiss(ids, x, 32, ivf_min=2000)
    assert isinstance(ivf, faiss.IndexIVFFlat) and ivf.ntotal == 3000
    restored = faiss.deserialize_index(faiss.serialize_index(ivf))
    assert faiss.extract_index_ivf(restored).nprobe == ivf.nprobe  # the tuned nprobe is saved
