"""Approximate vector search for large indexes: an inverted-file (IVF) FAISS index whose nprobe is
chosen so that recall@10 against exact search stays at or above TARGET_RECALL."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

IVF_MIN_VECTORS = 300_000  # below this, exact search is fast enough (p50 < 50 ms at 100k chunks)
TARGET_RECALL = 0.95
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
NPROBE_MARGIN = 4


@dataclass
class IvfChoice:
    nlist: int
    nprobe: int
    recall_at_10: float


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k best vectors per query, in blocks so memory stays flat."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), 65536):
        scores = queries @ vectors[start : start + 65536].T
        rows = np.arange(start, start + scores.shape[1])
        merged_scores = np.hstack([best_scores, scores])
        merged_rows = np.hstack([best_rows, np.broadcast_to(rows, scores.shape)])
        top = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_rows = np.take_along_axis(merged_rows, top, axis=1)
    return best_rows


def probe_queries(vectors: np.ndarray, n: int = 200, seed: int = 0) -> np.ndarray:
    """Stand-ins for questions: stored vectors moved far by noise. The noise level is set so that the
    recall these give tracks the recall of real questions (SciFact claims over 400k SciFact-derived
    vectors, nprobe 1..64: within 0.01 of each other); gentler noise overstated recall (0.98 vs 0.76
    at nprobe 1) because a slightly moved vector stays in its own cell."""
    rng = np.random.default_rng(seed)
    picked = vectors[rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)]
    noisy = picked + rng.normal(0, 2.5 / math.sqrt(vectors.shape[1]), picked.shape).astype(np.float32)
    out: np.ndarray = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    return out


def build_ivf(ids: np.ndarray, vectors: np.ndarray, dim: int) -> tuple[object, IvfChoice]:
    """Train an IVF index on the vectors, add them with their ids, and set the smallest nprobe that
    reaches TARGET_RECALL on probe queries."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    nlist = max(1, int(4 * math.sqrt(len(vectors))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(len(vectors), size=min(len(vectors), 64 * nlist), replace=False)]
    index.train(sample)
    index.add_with_ids(vectors, ids)
    queries = probe_queries(vectors)
    truth = ids[exact_top(vectors, queries, 10)]
    smallest = nlist
    for nprobe in NPROBES:
        index.nprobe = min(nprobe, nlist)
        _, found = index.search(queries, 10)
        if _recall(found, truth) >= TARGET_RECALL or nprobe >= nlist:
            smallest = int(index.nprobe)
            break
    # Margin: at the probe-chosen nprobe real questions measured 0.925; at 4x it, 0.976. Each probe
    # costs ~0.03 ms at 400k vectors, so the margin is nearly free next to exact search (50 ms).
    index.nprobe = min(nlist, NPROBE_MARGIN * smallest)
    _, found = index.search(queries, 10)
    return index, IvfChoice(nlist, int(index.nprobe), _recall(found, truth))


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))
