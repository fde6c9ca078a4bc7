"""Calibrate the default (hand-weighted) scorer's confidence: qa/weights/rules.json.

    python eval/calibrate.py [--news-index DIR] [--seed-index DIR] [--select]

Every question of news-quiz (as of its own date) and of the seed sets is answered with the rules scorer;
the shown extract's cues (qa.rules.CUES: its score, its lead over the next extract, its late interaction
with the question and every qa.features column of it) and whether it holds a gold answer (never, for a
question the corpus cannot answer) are fitted by logistic regression on the cues
qa.rules.CONFIDENCE_FEATURES names, the two corpora weighing the same: news-quiz, and the seed tuning
sets together.

Validation, never the held-out questions: fitted on news-quiz before July 2022 and the seed tuning sets,
the mean Brier score on news-quiz July-December 2022 and on the seed test set chooses the regularisation
C, and with --select the cues themselves (forward selection from the first release's cues; the list it
prints is CONFIDENCE_FEATURES). The "no answer" threshold is the release criterion on the questions it
is fitted on: the confidence below which 5 % of their answerable questions fall, the two corpora
weighing the same (news-quiz as much as the seed tuning sets together).

Reported: the fit on news-quiz before 2023 plus the seed tuning sets, tested on news-quiz 2023 (Brier
score, mean confidence against the share right in five bins, and answer in extract / answerable refused /
unanswerable refused at that fit's threshold); the weights written are fitted on all of news-quiz and the
seed tuning sets. Reads only ../shared/data and eval/.
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
SEED_VALIDATION = "questions-test.jsonl"
VALIDATION = ("2022-07", "2023")  # news-quiz's half-year that chooses C and the cues
HELD_OUT = "2023"  # news-quiz from this date on: the held-out check
# the first release's cues (2026-12-01): the score, the lead, the article's age, the question's rarer words the
# extract and its article lack, and the question's names its article holds
START = ("score", "lead", "time_older", "idf_miss", "idf_miss_article", "max_miss_article", "names_article")
C_GRID = (0.1, 0.3, 1.0, 3.0)  # logistic regression's inverse regularisation
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
        asked = q.date.isoformat() if q.date else ""
        rows.append({"set": label, "when": asked, "x": best.judged, "right": right, "answerable": q.answerable})
    return rows


def columns(names: list[str] | tuple[str, ...]) -> list[int]:
    return [rules.CUES.index(n) for n in names]


def fit(rows: list[dict], names: list[str] | tuple[str, ...], C: float) -> tuple[Linear, float]:
    """The confidence model on these cues and its threshold: the confidence below which 5 % of the
    answerable questions fall (each set, r["set"], weighing the same in both)."""
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([r["x"] for r in rows])[:, columns(names)]
    y = np.array([r["right"] for r in rows], dtype=int)
    sizes = {s: sum(1 for r in rows if r["set"] == s) for s in {r["set"] for r in rows}}
    weight = np.array([1.0 / sizes[r["set"]] for r in rows])
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    lr = LogisticRegression(C=C, max_iter=5000).fit((X - mean) / scale, y, sample_weight=weight / weight.mean())
    model = Linear(mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))
    answerable = [r for r in rows if r["answerable"]]
    counts = {s: sum(1 for r in answerable if r["set"] == s) for s in sizes}
    p = confidences(model, answerable, names)
    order = np.argsort(p)
    share = np.cumsum([1.0 / counts[answerable[i]["set"]] for i in order])
    below = int(np.searchsorted(share / share[-1], REFUSED_AT_MOST))  # those before it weigh under 5 %
    return model, float(p[order[below]])


def confidences(model: Linear, rows: list[dict], names: list[str] | tuple[str, ...]) -> np.ndarray:
    out: np.ndarray = sigmoid(model.logit(np.vstack([r["x"] for r in rows])[:, columns(names)]))
    return out


def brier(model: Linear, rows: list[dict], names: list[str] | tuple[str, ...]) -> float:
    return float(np.mean((confidences(model, rows, names) - np.array([r["right"] for r in rows])) ** 2))


def validation_brier(rows: dict[str, list[dict]], names: list[str] | tuple[str, ...], C: float) -> float:
    """Fitted on news-quiz before the validation half-year and the seed tuning sets: the mean of the Brier
    scores on that half-year and on the seed test set."""
    news = rows["news-quiz"]
    before = [r for r in news if r["when"] < VALIDATION[0]] + rows["seeds"]
    half_year = [r for r in news if VALIDATION[0] <= r["when"] < VALIDATION[1]]
    model, _ = fit(before, names, C)
    return (brier(model, half_year, names) + brier(model, rows["seed test"], names)) / 2


def select(rows: dict[str, list[dict]]) -> list[str]:
    """Forward selection from the cues of the confidence's first release (START): add the cue that lowers
    the validation Brier score most, while it lowers it by at least 0.0005 (C = 1)."""
    chosen = list(START)
    best = validation_brier(rows, chosen, 1.0)
    while True:
        after = {n: validation_brier(rows, [*chosen, n], 1.0) for n in rules.CUES if n not in chosen}
        name = min(after, key=lambda n: after[n])
        if after[name] > best - 0.0005:
            return chosen
        chosen.append(name)
        best = after[name]
        print(f"+ {name}: validation Brier {best:.4f}", flush=True)


def check(rows: list[dict], model: Linear, threshold: float) -> dict:
    p = confidences(model, rows, rules.CONFIDENCE_FEATURES)
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
    ap.add_argument("--select", action="store_true", help="choose the cues anew and print them (no weights written)")
    args = ap.parse_args()
    news = collect(DATA / "corpus", Path(args.news_index), ev.load_questions(DATA / "questions.jsonl"), "news-quiz")

    def seed_rows(name: str, label: str) -> list[dict]:
        return collect(ROOT / "qa" / "seeds", Path(args.seed_index), ev.load_questions(ROOT / "eval" / name), label)

    rows = {
        "news-quiz": news,
        # one set: the seeds' 103 tuning questions weigh as much as news-quiz's 1,420, not twice as much
        "seeds": [row for name in SEED_SETS for row in seed_rows(name, "seeds")],
        "seed test": seed_rows(SEED_VALIDATION, SEED_VALIDATION),
    }
    if args.select:
        print("CONFIDENCE_FEATURES =", tuple(select(rows)))
        return
    C = min(C_GRID, key=lambda C: validation_brier(rows, rules.CONFIDENCE_FEATURES, C))
    seeds = rows["seeds"]
    model, threshold = fit([r for r in news if r["when"] < HELD_OUT] + seeds, rules.CONFIDENCE_FEATURES, C)
    held_out = check([r for r in news if r["when"] >= HELD_OUT], model, threshold)
    print(f"C {C}; fit on news-quiz < {HELD_OUT} + seed tuning sets: threshold {threshold:.4f}")
    print(f"held out, news-quiz {HELD_OUT}: {json.dumps(held_out)}")
    model, threshold = fit(news + seeds, rules.CONFIDENCE_FEATURES, C)
    out = {
        "features": list(rules.CONFIDENCE_FEATURES),
        "threshold": math.floor(threshold * 1e4) / 1e4,  # rounded down: the question at it stays answered
        "model": model.to_dict(),
        "learner": f"scikit-learn LogisticRegression(C={C}) on standardised features; news-quiz and the seed "
        "tuning sets together weigh the same",
        "validation": f"C and the features: mean Brier score on news-quiz {VALIDATION[0]}..{VALIDATION[1]} and "
        f"eval/{SEED_VALIDATION}, fitted on news-quiz before {VALIDATION[0]} and the seed tuning sets",
        "rule": "threshold: the confidence below which 5 % of the answerable questions fall, news-quiz and "
        "the seed tuning sets together weighing the same",
        "trained_on": ["shared/data/news-quiz/questions.jsonl (as of each question's date)"]
        + [f"eval/{n}" for n in SEED_SETS],
        "questions": len(news) + len(seeds),
        f"held_out_news_quiz_{HELD_OUT}": held_out,
        "command": "python eval/calibrate.py",
    }
    rules.CALIBRATION.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
