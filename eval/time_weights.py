"""Fit the retriever's time weights (qa.retrieve.TimeWeights) on news-quiz, cross-validated by year.

    python eval/time_weights.py [--index DIR]      # prints the table and the chosen weights as JSON

Each answerable question is searched as of the day it was asked (articles dated later are left out) with
no time weights; its 30 best passages, their scores and dates are kept. A grid of weights re-ranks them
offline (the same `time_rescore` the retriever runs). Forward-chaining folds: fit on 2020, test on 2021;
fit on 2020-21, test on 2022; fit on 2020-22, test on 2023. Reported: gold article at rank 1 on the
held-out years only (the in-sample number is never quoted as a result). Reads only ../shared/data.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import evaluate as ev  # noqa: E402
from qa.dates import time_features, time_scope  # noqa: E402
from qa.retrieve import Retriever, TimeWeights, time_adjusted  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "news-quiz"
GRID = {
    "explicit": (0.0, 0.05, 0.1, 0.2),
    "recent": (0.0, 0.05, 0.1, 0.2, 0.3),
    "recent_default": (0.0, 0.05, 0.1, 0.2),
    "half_life": (7.0, 30.0, 90.0, 365.0),
    "forward": (0.0, 0.05),
    "margin": (0.1, 0.2, 0.3, 1.0),
}
DEPTH = 30


def collect(index: Path) -> list[dict]:
    from qa.config import Settings
    from qa.embed import ModelEmbedder
    from qa.service import Library

    library = Library(Settings.from_options(DATA / "corpus", index), ModelEmbedder("all-MiniLM-L6-v2"))
    library.refresh()
    retriever = Retriever(index, library.embedder, time_weights=TimeWeights(0, 0, 0, 30, 0, 1.0))
    rows = []
    for q in ev.load_questions(DATA / "questions.jsonl"):
        if not q.answerable or not q.article or q.date is None:
            continue
        hits = retriever.search(q.question, k=DEPTH, as_of=q.date)
        plain = retriever.search(q.question, k=1)
        gold = ev._gold_id(retriever, q.article, hits)
        rows.append(
            {
                "year": q.date.year,
                "question": q.question,
                "scope": time_scope(q.question, q.date),
                "scores": [h.score for h in hits],
                "features": [time_features(time_scope(q.question, q.date), h.date, h.text) for h in hits],
                "gold": [h.article_id == gold for h in hits],
                "undated_rank1": bool(plain) and plain[0].article_id == gold,
            }
        )
    return rows


def rank1(rows: list[dict], weights: TimeWeights) -> float:
    hits = 0
    for row in rows:
        if not row["scores"]:
            continue
        scored = time_adjusted(row["scores"], row["features"], row["scope"], weights)
        hits += row["gold"][int(np.argmax(scored))]
    return hits / max(1, len(rows))


def best_weights(rows: list[dict]) -> tuple[TimeWeights, float]:
    best, best_score = TimeWeights(0, 0, 0, 30, 0, 1.0), -1.0
    for values in itertools.product(*GRID.values()):
        weights = TimeWeights(**dict(zip(GRID, values)))
        score = rank1(rows, weights)
        if score > best_score + 1e-9:
            best, best_score = weights, score
    return best, best_score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=str(Path.home() / ".cache" / "qa-eval" / "news-quiz"))
    args = ap.parse_args()
    rows = collect(Path(args.index))
    years = sorted({r["year"] for r in rows})
    held_out = []
    print(f"{len(rows)} answerable questions, years {years}")
    for test_year in years[1:]:
        train = [r for r in rows if r["year"] < test_year]
        test = [r for r in rows if r["year"] == test_year]
        weights, fit = best_weights(train)
        score = rank1(test, weights)
        held_out.append((len(test), score, rank1(test, TimeWeights(0, 0, 0, 30, 0, 1.0))))
        print(f"fit on < {test_year} ({len(train)}): rank-1 {fit:.3f} in-sample;", end=" ")
        print(f"{test_year} ({len(test)}): {score:.3f} held out, {weights}")
    n = sum(c for c, _, _ in held_out)
    print(f"held-out rank-1 with time weights: {sum(c * s for c, s, _ in held_out) / n:.4f}")
    print(
        f"held-out rank-1, as_of only (articles after the date left out): {sum(c * b for c, _, b in held_out) / n:.4f}"
    )
    undated = [r for r in rows if r["year"] > years[0]]
    print(f"held-out rank-1 without dates: {np.mean([r['undated_rank1'] for r in undated]):.4f}")
    final, fit = best_weights(rows)
    print(json.dumps({"weights": final.__dict__, "in_sample_rank1_all_years": round(fit, 4)}))


if __name__ == "__main__":
    main()
