"""Calibrate the default (hand-weighted) answer score into a probability: qa/weights/rules.json.

    python eval/calibrate.py [--news-index DIR] [--seed-index DIR]

Every question of news-quiz (as of its own date) and of the two seed tuning sets is answered with the
rules scorer; the best extract's score and whether it holds a gold answer (never, for a question the
corpus cannot answer) are fitted by logistic regression on the score (Platt scaling). Reported: the fit on
news-quiz before 2023 plus the seed tuning sets, tested on news-quiz 2023 (Brier score, and mean
confidence against the share right in five bins); the weights written are fitted on all of it. Reads
only ../shared/data and eval/. The "no answer" threshold is not fitted here: it stays the score threshold
chosen on the seed tuning sets by the 5 % rule (qa.rules.SCORE_THRESHOLD), mapped to a probability.
"""

from __future__ import annotations

import argparse
import json
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

DATA = ROOT.parent / "shared" / "data" / "news-quiz"
SEED_SETS = ("questions.jsonl", "questions-holdout.jsonl")


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
        hits = retriever.search(q.question, k=RERANK, vector=vector, as_of=q.date or date.today())
        scored = rules.scored(retriever, q.question, vector, hits)
        if not scored:
            continue
        best = max(scored, key=lambda c: c.score)
        right = q.answerable and ev.contains_answer(best.text, q.answers)
        rows.append({"set": label, "year": q.date.year if q.date else 0, "score": best.score, "right": right})
    return rows


def fit(rows: list[dict]) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r["score"]] for r in rows])
    y = np.array([r["right"] for r in rows], dtype=int)
    model = LogisticRegression(C=1e4).fit(x, y)
    return float(model.coef_[0][0]), float(model.intercept_[0])


def check(rows: list[dict], a: float, b: float) -> dict:
    p = 1 / (1 + np.exp(-(a * np.array([r["score"] for r in rows]) + b)))
    y = np.array([r["right"] for r in rows], dtype=float)
    order = np.argsort(p)
    bins = [
        {"mean_confidence": round(float(p[i].mean()), 3), "share_right": round(float(y[i].mean()), 3), "n": len(i)}
        for i in np.array_split(order, 5)
    ]
    return {"questions": len(rows), "brier": round(float(np.mean((p - y) ** 2)), 4), "bins": bins}


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
    a, b = fit(train)
    held_out = check(test, a, b)
    print(f"fit on news-quiz < 2023 + seed tuning sets ({len(train)}): a={a:.3f} b={b:.3f}")
    print(f"held out, news-quiz 2023: {json.dumps(held_out)}")
    a, b = fit(news + seeds)
    out = {
        "a": round(a, 6),
        "b": round(b, 6),
        "score_threshold": rules.SCORE_THRESHOLD,
        "confidence_threshold": round(float(1 / (1 + np.exp(-(a * rules.SCORE_THRESHOLD + b)))), 4),
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
