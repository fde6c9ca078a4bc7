"""Calibrate the default (hand-weighted) scorer's confidence: qa/weights/rules.json.

    python eval/calibrate.py [--news-index DIR] [--seed-index DIR]

Every question of news-quiz (as of its own date) and of the two seed tuning sets is answered with the
rules scorer; the shown extract's cues (qa.rules.CONFIDENCE_FEATURES: its score, its lead over the next
extract, its article's age against the newest passage, the question's rarer words it and its article lack,
the question's names its article holds) and whether it holds a gold answer (never, for a question the
corpus cannot answer) are fitted by logistic regression, news-quiz and each seed set weighing the same.
The "no answer" threshold is the release criterion on the seed tuning sets: the confidence below which 5 %
of their answerable questions fall. Reported: the fit on news-quiz before 2023 plus the seed tuning sets,
tested on news-quiz 2023 (Brier score, mean confidence against the share right in five bins, and answer
in extract / answerable refused / unanswerable refused at that fit's threshold); the weights written are
fitted on all of it. Reads only ../shared/data and eval/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import evaluate as ev  # noqa: E402
from qa import rules  # noqa: E402
from qa.scorer import Linear, sigmoid  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "news-quiz"
SEED_SETS = ("questions.jsonl", "questions-holdout.jsonl")
REFUSED_AT_MOST = 0.05  # the release rule: at most 5 % of answerable questions refused


def collect(corpus: Path, index: Path, questions: list[ev.Question], label: str) -> list[dict]:
    from qa.answer import RERANK
    from qa.config import Settings
    from qa.service import Library

    library = Library(Settings.from_options(corpus, index))
    library.refresh()
    retriever = library.retriever()
    rows = []
    for q in questions:
        vector = retriever.embed(q.question)  # as qa.answer.answer does, up to the scores
        when = q.date or date.today()
        hits = retriever.search(q.question, k=RERANK, vector=vector, as_of=when)
        scored = rules.scored(retriever, q.question, vector, hits, when)
        if not scored:
            continue
        best = max(scored, key=lambda c: c.rank)
        right = q.answerable and ev.contains_answer(best.text, q.answers)
        year = q.date.year if q.date else 0
        rows.append({"set": label, "year": year, "x": best.judged, "right": right, "answerable": q.answerable})
    return rows


def fit(rows: list[dict]) -> tuple[Linear, float]:
    """The confidence model (each set weighing the same in total) and its threshold (the 5 % rule on the
    seed tuning sets)."""
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([r["x"] for r in rows])
    y = np.array([r["right"] for r in rows], dtype=int)
    sizes = {s: sum(1 for r in rows if r["set"] == s) for s in {r["set"] for r in rows}}
    weight = np.array([1.0 / sizes[r["set"]] for r in rows])
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    lr = LogisticRegression(C=1.0, max_iter=2000).fit((X - mean) / scale, y, sample_weight=weight / weight.mean())
    model = Linear(mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))
    seeds = sorted(confidences(model, [r for r in rows if r["set"] in SEED_SETS and r["answerable"]]))
    return model, float(seeds[int(REFUSED_AT_MOST * len(seeds))])


def confidences(model: Linear, rows: list[dict]) -> np.ndarray:
    out: np.ndarray = sigmoid(model.logit(np.vstack([r["x"] for r in rows])))
    return out


def check(rows: list[dict], model: Linear, threshold: float) -> dict:
    p = confidences(model, rows)
    y = np.array([r["right"] for r in rows], dtype=float)
    yes = np.array([r["answerable"] for r in rows])
    order = np.argsort(p)
    bins = [
        {"mean_confidence": round(float(p[i].mean()), 3), "share_right": round(float(y[i].mean()), 3), "n": len(i)}
        for i in np.array_split(order, 5)
    ]
    return {
        "questions": len(rows),
        "brier": round(float(np.mean((p - y) ** 2)), 4),
        "bins": bins,
        "answer_in_extract": round(float(np.mean((p >= threshold)[yes] & (y[yes] > 0))), 4),
        "answerable_wrongly_refused": round(float(np.mean(p[yes] < threshold)), 4),
        "unanswerable_refused": round(float(np.mean(p[~yes] < threshold)), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--news-index", default=str(Path.home() / ".cache" / "qa-eval" / "news-quiz"))
    ap.add_argument("--seed-index", default=str(Path.home() / ".cache" / "qa-eval" / "seeds"))
    args = ap.parse_args()
    news = collect(DATA / "corpus", Path(args.news_index), ev.load_questions(DATA / "questions.jsonl"), "news-quiz")
    seeds = [
        row
        for name in SEED_SETS
        for row in collect(
            ROOT / "qa" / "seeds", Path(args.seed_index), ev.load_questions(ROOT / "eval" / name), name
        )
    ]
    train = [r for r in news if r["year"] < 2023] + seeds
    test = [r for r in news if r["year"] == 2023]
    model, threshold = fit(train)
    held_out = check(test, model, threshold)
    print(f"fit on news-quiz < 2023 + seed tuning sets ({len(train)}), threshold {threshold:.4f}")
    print(f"held out, news-quiz 2023: {json.dumps(held_out)}")
    model, threshold = fit(news + seeds)
    out = {
        "features": list(rules.CONFIDENCE_FEATURES),
        "threshold": math.floor(threshold * 1e4) / 1e4,  # rounded down: the question at it stays answered
        "model": model.to_dict(),
        "learner": "scikit-learn LogisticRegression(C=1.0) on standardised features; news-quiz and each seed "
        "set weigh the same",
        "rule": "threshold: the confidence below which 5 % of the seed tuning sets' answerable questions fall",
        "trained_on": ["shared/data/news-quiz/questions.jsonl (as of each question's date)"]
        + [f"eval/{n}" for n in SEED_SETS],
        "questions": len(news) + len(seeds),
        "held_out_news_quiz_2023": held_out,
        "command": "python eval/calibrate.py",
    }
    rules.CALIBRATION.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
