"""Choose qa.rules.PASSAGE_FUSED: how the passages shown are re-ordered by what their sentences answer.

    python eval/passage_order.py [--squad-index DIR] [--news-index DIR] [--seed-index DIR]

Every answerable question of squad2, news-quiz (as of its date, and again without dates) and the seed
sets is answered by the rules scorer; for each of its top qa.rules.PASSAGES passages the best rank among
that passage's extracts and the passage's fused score are kept. The passages are then ordered offline by
best rank + w x fused score for each w of the grid (and by the fused score alone, the order before), and
the gold article at rank 1 is counted. w is chosen on the tuning halves (squad2's first half of articles,
news-quiz before 2022-07 with and without dates, the two seed tuning files: the mean of the four) and
reported on the other halves, the seed test file and the final set. Reads only ../shared/data and eval/.
"""

from __future__ import annotations

import argparse
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
from qa.answer import RERANK  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CACHE = Path.home() / ".cache" / "qa-eval"
GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
SPLIT = "2022-07"  # news-quiz questions before it tune


def collect(corpus: Path, index: Path, files: list[Path], dates: bool) -> list[dict]:
    from qa.config import Settings
    from qa.service import Library

    library = Library(Settings.from_options(corpus, index))
    library.refresh()
    retriever = library.retriever()
    rows = []
    for path in files:
        for q in ev.load_questions(path):
            if not q.answerable or not q.article:
                continue
            vector = retriever.embed(q.question)
            as_of = (q.date or date.today()) if dates else None
            hits = retriever.search(q.question, k=RERANK, vector=vector, as_of=as_of)
            candidates = rules.scored(retriever, q.question, vector, hits, as_of)
            top = range(min(rules.PASSAGES, len(hits)))
            best = rules.best_by_passage(candidates)
            rows.append(
                {
                    "file": path.name,
                    "when": q.date.isoformat() if q.date else "",
                    "group": q.article.split("#")[-1].rsplit("-", 1)[0],  # squad2: the Wikipedia article
                    "gold": ev._gold_id(retriever, q.article, hits),
                    "articles": [hits[p].article_id for p in top],
                    "fused": [hits[p].score for p in top],
                    "best": [best.get(p, -9.0) for p in top],  # none competed: last
                }
            )
    return rows


def at_rank_one(rows: list[dict], w: float | None) -> float:
    """Gold article first when the top passages are ordered by best rank + w x fused (None: fused alone)."""
    right = 0
    for r in rows:
        if not r["articles"]:
            continue
        order = np.array(r["fused"]) if w is None else np.array(r["best"]) + w * np.array(r["fused"])
        right += r["articles"][int(np.argmax(order))] == r["gold"]
    return right / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad-index", default=str(CACHE / "squad2"))
    ap.add_argument("--news-index", default=str(CACHE / "news-quiz"))
    ap.add_argument("--seed-index", default=str(CACHE / "seeds"))
    args = ap.parse_args()
    seed_files = ("questions", "questions-holdout", "questions-test", "questions-final")
    seeds = [ROOT / "eval" / f"{n}.jsonl" for n in seed_files]
    squad = collect(DATA / "squad2" / "corpus", Path(args.squad_index), [DATA / "squad2" / "questions.jsonl"], False)
    news_files = [DATA / "news-quiz" / "questions.jsonl"]
    news = collect(DATA / "news-quiz" / "corpus", Path(args.news_index), news_files, True)
    undated = collect(DATA / "news-quiz" / "corpus", Path(args.news_index), news_files, False)
    seed = collect(ROOT / "qa" / "seeds", Path(args.seed_index), seeds, True)
    first_half = set(sorted({r["group"] for r in squad})[::2])
    tuning = {
        "squad2": [r for r in squad if r["group"] in first_half],
        "news-quiz": [r for r in news if r["when"] < SPLIT],
        "news-quiz, no dates": [r for r in undated if r["when"] < SPLIT],
        "seeds": [r for r in seed if r["file"] in ("questions.jsonl", "questions-holdout.jsonl")],
    }
    held_out = {
        "squad2": [r for r in squad if r["group"] not in first_half],
        "news-quiz": [r for r in news if r["when"] >= SPLIT],
        "news-quiz, no dates": [r for r in undated if r["when"] >= SPLIT],
        "seed test": [r for r in seed if r["file"] == "questions-test.jsonl"],
        "seed final": [r for r in seed if r["file"] == "questions-final.jsonl"],
    }
    print("gold article at rank 1; tuning halves | held-out halves")
    means = {}
    for w in (None, *GRID):
        tuned = {name: at_rank_one(rows, w) for name, rows in tuning.items()}
        means[w] = float(np.mean(list(tuned.values())))
        shown = {name: round(at_rank_one(rows, w), 3) for name, rows in held_out.items()}
        label = "fused alone" if w is None else f"w {w}"
        print(f"{label:12s} mean {means[w]:.4f} { ({k: round(v, 3) for k, v in tuned.items()}) } | {shown}")
    chosen = max(GRID, key=lambda w: means[w])
    print(f"chosen: PASSAGE_FUSED = {chosen} (qa/rules.py has {rules.PASSAGE_FUSED})")


if __name__ == "__main__":
    main()
