"""Which candidate model picks the right extract on corpora it was not fit to: the rules, the shipped
listwise linear ranker, and gradient boosting (why the rules stay the default; eval/README.md, issue 11).

    python eval/learners.py               # fit on news-quiz before 2022-07 and two seed files
    python eval/learners.py --squad-half  # ... and half of squad2's articles

Tested on later news-quiz, the third seed file (questions-test) and squad2 (all of it, or the other half of
its articles). Reads the feature cache eval/train.py writes (same --index-root and --cache).
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train


def in_half(article: str) -> bool:
    return zlib.crc32(article.encode()) % 2 == 0


NEGATIVES = 40  # wrong candidates sampled per question for the trees


def boosted(records: list[train.Record], weight: dict[str, float], rng: np.random.Generator) -> object:
    """scikit-learn's HistGradientBoosting on the candidates (all right ones, NEGATIVES wrong ones each)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    xs, ys, ws = [], [], []
    for r in records:
        pos, neg = np.flatnonzero(r.label == 1), np.flatnonzero(r.label == 0)
        if len(neg) > NEGATIVES:
            neg = rng.choice(neg, NEGATIVES, replace=False)
        idx = np.concatenate([pos, neg])
        xs.append(r.X[idx])
        ys.append(r.label[idx])
        ws.append(np.full(len(idx), weight[r.set] / max(1, len(idx))))
    w = np.concatenate(ws)
    model = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.08, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=1.0
    )
    return model.fit(np.vstack(xs), np.concatenate(ys), sample_weight=w / w.mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--squad-half", action="store_true", help="also fit on half of squad2's articles")
    p.add_argument("--index-root", default=str(train.EVAL / "reports" / "train-index"))
    p.add_argument("--cache", default=str(train.EVAL / "reports" / "train-cache"))
    args = p.parse_args()
    from qa import config
    from qa.embed import ModelEmbedder

    embedder = ModelEmbedder(config.default_model())
    records = []
    for name in ("news-quiz", "seeds", "squad2"):
        records += train.collect(name, Path(args.index_root), Path(args.cache), embedder, None)

    def fit_on(r: train.Record) -> bool:
        if r.set == "news-quiz":
            return r.when[:7] < "2022-07"
        if r.set == "seeds":
            return r.group != "questions-test"
        return args.squad_half and in_half(r.group)

    fit = [r for r in records if fit_on(r)]
    test = [r for r in records if not fit_on(r) and r.answerable and len(r.X)]
    weight = train.set_weights(fit)
    linear = train.fit_listwise(fit, weight)
    trees = boosted(fit, weight, np.random.default_rng(0))
    right: dict[str, list[tuple[bool, bool, bool]]] = {}
    for r in test:
        by_trees = trees.predict_proba(r.X)[:, 1]  # type: ignore[attr-defined]
        by_linear = linear.logit(r.X)
        picks = (r.rules_right, bool(r.has[int(np.argmax(by_linear))]), bool(r.has[int(np.argmax(by_trees))]))
        right.setdefault(r.set, []).append(picks)
    print("best extract right on held-out questions: rules / listwise linear (shipped) / gradient boosting")
    for name, rows in sorted(right.items()):
        shares = np.mean(np.array(rows, dtype=float), axis=0)
        print(f"{name:10s} {len(rows):5d} questions  " + " / ".join(f"{x:.3f}" for x in shares))


if __name__ == "__main__":
    main()
