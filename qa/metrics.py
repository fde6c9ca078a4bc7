"""Ranking metrics (recall@k, MRR@k, nDCG@k) as trec_eval and ranx define them, in plain Python:
ranx gave the same numbers (checked on SciFact runs) but its numba JIT cost 76 s cold for small runs."""

from __future__ import annotations

import math
from collections.abc import Iterable


def _score(metric: str, relevant: dict[str, int], ranking: list[str]) -> float:
    name, _, cut = metric.partition("@")
    k = int(cut) if cut else len(ranking)
    top = ranking[:k]
    if name == "recall":
        return sum(1 for d in top if d in relevant) / len(relevant)
    if name == "mrr":
        return next((1.0 / i for i, d in enumerate(top, 1) if d in relevant), 0.0)
    if name == "ndcg":  # gain = relevance grade, discount log2(rank + 1) (trec_eval's ndcg_cut)
        dcg = sum(relevant.get(d, 0) / math.log2(i + 1) for i, d in enumerate(top, 1))
        ideal = sorted(relevant.values(), reverse=True)[:k]
        return dcg / sum(g / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    raise ValueError(f"unknown metric {metric!r}")


def ranking_metrics(
    qrels: dict[str, dict[str, int]], run: dict[str, list[str]], metrics: Iterable[str]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query scores; `run` maps a query to its documents best first. Queries without a
    relevant document are left out; a judged query the run lacks scores 0."""
    metrics = list(metrics)
    judged = {q: {d: r for d, r in docs.items() if r > 0} for q, docs in qrels.items()}
    judged = {q: docs for q, docs in judged.items() if docs}
    per_query = {m: {q: _score(m, docs, run.get(q, [])) for q, docs in judged.items()} for m in metrics}
    means = {m: (sum(s.values()) / len(s) if s else 0.0) for m, s in per_query.items()}
    return means, per_query
