"""Train the answer scorer, the passage reranker and the confidence calibration; write qa/weights/answer.json.

    python eval/train.py                      # all sets: cross-validate, then fit on everything
    python eval/train.py --sets seeds --sample 40 --out /tmp/w.json   # a quick run

Reads only ../shared/data (news-quiz, squad2) and eval/ question sets (questions, holdout, test; the
final set is never trained on, only measured with the final weights). Each set is indexed once under
--index-root with the same Indexer as `qa index`; each question goes through the same search and feature
code as `qa ask` (qa.features), and the features are cached under --cache.

Cross-validation, never in-sample: squad2 grouped by Wikipedia article (5 folds), news-quiz by time
(fit on the months before each half-year from 2021 on, test on that half-year); the other sets are always
in the training part. The "no answer" threshold of each fold is chosen on its training part by the
rule "at most 5 % of the answerable training questions refused", each set weighing as in the fit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import config, features, rules, scorer  # noqa: E402
from qa.evaluate import contains_answer  # noqa: E402
from qa.features import INDEX  # noqa: E402
from qa.scorer import RERANK  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
EVAL = ROOT / "eval"
SETS: dict[str, dict[str, Any]] = {
    "news-quiz": {"questions": [DATA / "news-quiz" / "questions.jsonl"], "corpus": DATA / "news-quiz" / "corpus"},
    "squad2": {"questions": [DATA / "squad2" / "questions.jsonl"], "corpus": DATA / "squad2" / "corpus"},
    "seeds": {
        "questions": [EVAL / "questions.jsonl", EVAL / "questions-holdout.jsonl", EVAL / "questions-test.jsonl"],
        "corpus": ROOT / "qa" / "seeds",
    },
    # never trained on: measured with the final weights only
    "seeds-final": {"questions": [EVAL / "questions-final.jsonl"], "corpus": ROOT / "qa" / "seeds"},
}
TRAINABLE = [name for name in SETS if name != "seeds-final"]
L2 = 10.0  # the listwise ranker's L2 penalty on standardised weights (the loss sums over questions)
SEED_WEIGHT = 1.0
C = 0.05  # inverse regularisation of the two logistic regressions, passages and confidence (0.05 / 0.5 / 5 tried)
REFUSED_AT_MOST = 0.05  # the release rule: at most 5 % of answerable questions refused


@dataclass
class Record:
    """One question, its candidates' features and what is right among them."""

    set: str
    group: str  # squad2: the Wikipedia article; seeds: the question file
    when: str  # news-quiz: the quiz date ("" elsewhere)
    answerable: bool
    X: np.ndarray  # candidate features
    has: np.ndarray  # candidate holds a gold answer
    label: np.ndarray  # 1 / 0, or -1 for a pair whose answer one of its sentences holds alone
    passage_of: np.ndarray
    length: np.ndarray  # characters of each candidate
    gold: np.ndarray  # per passage: from the gold article
    rules_right: bool = False  # the default scorer's (qa.rules) extract holds a gold answer: the baseline
    rules_length: int = 0  # characters of the rules' extract: how long the default scorer's answers are
    meta: dict[str, Any] = field(default_factory=dict)


# --- collecting ---------------------------------------------------------------------------------------
def read_questions(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def feature_code() -> str:
    """What the features compute: qa/features.py's syntax tree (formatting and comments do not count)."""
    import ast

    tree = ast.parse(Path(features.__file__).read_text(encoding="utf-8"))
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def open_index(name: str, index_root: Path, embedder: Any) -> Any:
    from qa.retrieve import Retriever
    from qa.sync import Indexer

    folder = index_root / name
    folder.mkdir(parents=True, exist_ok=True)
    report = Indexer(SETS[name]["corpus"], folder, embedder).run()
    print(f"{name}: index {report.summary()}", file=sys.stderr)
    return Retriever(folder, embedder)


def collect(
    name: str, index_root: Path, cache: Path, embedder: Any, sample: int | None, question_dates: bool = True
) -> list[Record]:
    """Every question of a set through search and features, as of the question's date (when it has one) or
    today, as `qa eval` does; with `question_dates` off, with no time logic (`qa eval --no-question-dates`).
    Cached by the questions, the feature code and the dates."""
    files = SETS[name]["questions"]
    today = date.today().isoformat()
    key = f"{digest(files)}|{feature_code()}|{sample}|{RERANK}|{question_dates}|{today}|rules length"
    key = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = cache / f"{name}-{key}.pkl"
    if path.exists():
        return [Record(**d) for d in pickle.loads(path.read_bytes())]
    from qa.retrieve import Retriever

    retriever: Retriever = open_index(name, index_root, embedder)
    rows = [(f, q) for f in files for q in read_questions(f)]
    if sample:
        rows = rows[:: max(1, len(rows) // sample)][:sample]
    out = []
    started = time.time()
    for n, (f, q) in enumerate(rows, 1):
        # as `qa eval` does: each question as of its own date (else today); without dates, no time logic
        when = (date.fromisoformat(q["date"][:10]) if q.get("date") else date.today()) if question_dates else None
        out.append(record(retriever, name, f, q, when))
        if n % 200 == 0:
            print(f"{name}: {n}/{len(rows)} questions, {time.time() - started:.0f} s", file=sys.stderr)
    retriever.close()
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps([vars(r) for r in out]))  # plain dicts: readable from any module
    return out


def record(retriever: Any, name: str, file: Path, q: dict[str, Any], as_of: date | None) -> Record:
    question = q["question"]
    answers = [str(a) for a in q.get("answers") or []]
    answerable = bool(q.get("answerable", True))
    vector = retriever.embed(question)
    hits = retriever.search(question, k=RERANK, vector=vector, as_of=as_of)
    cands = features.candidates(retriever, hits)
    by_rules = rules.scored(retriever, question, vector, hits, as_of)
    rules_top = max(by_rules, key=lambda c: c.rank) if by_rules else None
    rules_best = rules_top.text if rules_top else ""
    X = features.matrix(retriever, features.QuestionCues.of(question, vector, retriever, as_of), cands, hits)
    has = np.array([answerable and contains_answer(c.text, answers) for c in cands], dtype=bool)
    alone = {(c.hit.article_id, c.start): h for c, h in zip(cands, has) if len(c.vectors) == 1}
    alone_end = {(c.hit.article_id, c.end): h for c, h in zip(cands, has) if len(c.vectors) == 1}
    label = has.astype(np.int8)
    for i, c in enumerate(cands):
        if len(c.vectors) > 1 and has[i]:
            if alone.get((c.hit.article_id, c.start)) or alone_end.get((c.hit.article_id, c.end)):
                label[i] = -1  # the answer needs only one sentence: neither a good nor a bad pair
    gold_id = _gold(retriever, q.get("article"))
    article = q.get("article") or ""
    group = file.stem if name == "seeds" else article.split("#", 1)[-1].rsplit("-", 1)[0] if name == "squad2" else ""
    return Record(
        set=name,
        group=group,
        when=str(q.get("date") or ""),
        answerable=answerable,
        X=X,
        has=has,
        label=label,
        passage_of=np.array([c.passage for c in cands], dtype=np.int16),
        length=np.array([len(c.text) for c in cands], dtype=np.int32),
        gold=np.array([h.article_id == gold_id for h in hits], dtype=bool),
        rules_right=answerable and contains_answer(rules_best, answers),
        rules_length=len(rules_top.text) if rules_top else 0,
    )


def _gold(retriever: Any, article: str | None) -> str | None:
    """news.jsonl#id and wiki.jsonl#id, or a path: the article id the index gives it."""
    if not article:
        return None
    if retriever.article(article) is not None:
        return article
    row = retriever.catalog.db.execute(
        "SELECT id FROM articles WHERE id LIKE ? OR path = ? LIMIT 1", (f"%{article}", article)
    ).fetchone()
    return row[0] if row else article


# --- fitting ------------------------------------------------------------------------------------------
def fit_linear(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> scorer.Linear:
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=C, max_iter=3000)
    model.fit((X - mean) / scale, y, sample_weight=weight)
    return scorer.Linear(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def set_weights(records: list[Record]) -> dict[str, float]:
    """Per-question weight of each set: a set with more questions than news-quiz weighs as much in total;
    a seed question (the bundled corpus, whose release gates hold) weighs SEED_WEIGHT news questions."""
    sizes: dict[str, int] = {}
    for r in records:
        sizes[r.set] = sizes.get(r.set, 0) + 1
    base = sizes.get("news-quiz") or max(sizes.values())
    return {s: (base / n if n > base else SEED_WEIGHT if s == "seeds" else 1.0) for s, n in sizes.items()}


def fit_listwise(records: list[Record], weight: dict[str, float]) -> scorer.Linear:
    """A ranker: a softmax over each question's extracts (a conditional logit), fit so the extracts that hold
    the answer take the probability: what picks the one shown, not what scores extracts in isolation.
    Against the pairwise loss on sampled pairs used before (same features), best extract right on held-out
    questions: news-quiz 0.854 -> 0.908, seeds 0.767 -> 0.816, squad2 0.748 -> 0.773 (eval/README.md).
    L2-regularised, solved with L-BFGS (scipy, a dependency of scikit-learn)."""
    from scipy.optimize import minimize

    rows, positive, weights = [], [], []
    for r in records:
        usable = r.label >= 0  # a pair whose answer one of its sentences holds alone is neither
        if r.answerable and (r.label == 1).any() and usable.sum() > 1:
            rows.append(r.X[usable])
            positive.append(r.label[usable] == 1)
            weights.append(weight[r.set])
    X = np.vstack(rows)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    Z = (X - mean) / scale
    P = np.concatenate(positive)
    sizes = np.array([len(x) for x in rows])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    question = np.repeat(np.arange(len(rows)), sizes)
    w = np.array(weights) / np.mean(weights)

    def loss(coef: np.ndarray) -> tuple[float, np.ndarray]:
        s = Z @ coef
        e = np.exp(s - np.maximum.reduceat(s, starts)[question])
        every, right = np.add.reduceat(e, starts), np.add.reduceat(e * P, starts)
        value = -np.sum(w * (np.log(right) - np.log(every))) + L2 * coef @ coef / 2
        grad = Z.T @ ((e / every[question] - e * P / right[question]) * w[question]) + L2 * coef
        return float(value), grad

    coef = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return scorer.Linear(mean, scale, coef.astype(np.float64), 0.0)


def with_pair_bonus(candidate: scorer.Linear, records: list[Record], weight: dict[str, float]) -> scorer.Linear:
    """The ranker with the largest bonus for two-sentence extracts under which its extracts of the training
    questions are, on average, no longer than the rules' (set-weighted). The listwise fit learns to pick one
    sentence (a pair whose answer one sentence holds alone counts for neither side), so it shows a pair less
    often than the rules do; at equal length the pair's neighbouring sentence holds answers the best single
    sentence misses (held-out best extract right, news-quiz / seeds / squad2: 0.908 / 0.806 / 0.773 with no
    bonus, 0.935 / 0.835 / 0.807 at the rules' length; eval/README.md)."""
    pair = INDEX["pair"]
    rows = [
        (scorer.extract_logits(candidate, r.X), r.X[:, pair], r.length, r.rules_length, weight[r.set])
        for r in records
        if len(r.X)
    ]
    w = np.array([row[4] for row in rows])
    rules_length = float(np.average([row[3] for row in rows], weights=w))
    bonus = 0.0
    for b in np.arange(0.25, 8.01, 0.25):
        lengths = [length[int(np.argmax(logits + b * pairs))] for logits, pairs, length, _, _ in rows]
        if np.average(lengths, weights=w) > rules_length:
            break
        bonus = float(b)
    coef = candidate.coef.copy()
    coef[pair] += bonus * candidate.scale[pair]  # the bonus, in the standardised feature's units
    return scorer.Linear(candidate.mean, candidate.scale, coef, candidate.intercept)


def fit(records: list[Record]) -> scorer.Scorer:
    weight = set_weights(records)
    candidate = with_pair_bonus(fit_listwise(records, weight), records, weight)
    ps, pys, pws, cs, cys, cws = [], [], [], [], [], []
    for r in records:
        if not len(r.X):
            continue
        logits = scorer.extract_logits(candidate, r.X)
        P = scorer.passage_matrix(r.X, logits, r.passage_of, len(r.gold))
        if r.gold.any():
            ps.append(P)
            pys.append(r.gold)
            pws.append(np.full(len(P), weight[r.set] / len(P)))
    pw = np.concatenate(pws)
    passage = fit_linear(np.vstack(ps), np.concatenate(pys).astype(int), pw / pw.mean())
    for r in records:
        if not len(r.X):
            continue
        logits = scorer.extract_logits(candidate, r.X)
        scores = passage.logit(scorer.passage_matrix(r.X, logits, r.passage_of, len(r.gold)))
        best = int(np.argmax(logits))
        cs.append(scorer.confidence_row(r.X, logits, best, scores[r.passage_of[best]]))
        cys.append(int(r.has[best]))
        cws.append(weight[r.set])
    confidence = fit_linear(np.vstack(cs), np.array(cys), np.array(cws) / np.mean(cws))
    model = scorer.Scorer(candidate, passage, confidence, 0.0, {})
    model.threshold = choose_threshold(records, model)
    return model


def choose_threshold(records: list[Record], model: scorer.Scorer) -> float:
    """The highest confidence under which at most 5 % of the answerable training questions fall, each set
    weighing as in the fit (set_weights): the most lenient set alone (squad2, whose extracts are least
    sure) would let nearly every unanswerable news question through."""
    weight = set_weights(records)
    pairs = sorted(
        (model.rank(r.X, r.passage_of, len(r.gold)).confidence, weight[r.set]) for r in records if r.answerable
    )
    if not pairs:
        return 0.5
    confs = np.array([c for c, _ in pairs])
    share = np.cumsum([w for _, w in pairs]) / sum(w for _, w in pairs)
    return float(confs[int(np.searchsorted(share, REFUSED_AT_MOST))])


# --- measuring ----------------------------------------------------------------------------------------
def outcomes(model: scorer.Scorer, records: list[Record], threshold: float | None = None) -> list[dict[str, Any]]:
    threshold = model.threshold if threshold is None else threshold
    out = []
    for r in records:
        ranked = model.rank(r.X, r.passage_of, len(r.gold))
        answered = ranked.best >= 0 and ranked.confidence >= threshold
        out.append(
            {
                "answerable": r.answerable,
                "answered": bool(answered),
                "right": bool(r.answerable and ranked.best >= 0 and r.has[ranked.best]),
                "confidence": ranked.confidence,
                "length": int(r.length[ranked.best]) if ranked.best >= 0 else 0,
                "rank1_before": bool(len(r.gold) and r.gold[0]),
                "rank1_after": bool(len(r.gold) and r.gold[ranked.order[0]]),
                "rules_right": r.rules_right,
            }
        )
    return out


def metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    yes = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if r["answered"]]

    def share(items: list[dict[str, Any]], test: Any) -> float | None:
        return round(sum(1 for r in items if test(r)) / len(items), 4) if items else None

    return {
        "questions": len(rows),
        "answerable": len(yes),
        "answer_in_extract": share(yes, lambda r: r["answered"] and r["right"]),
        "best_extract_right": share(yes, lambda r: r["right"]),  # whatever the threshold
        "answerable_wrongly_refused": share(yes, lambda r: not r["answered"]),
        "unanswerable_refused": share(no, lambda r: not r["answered"]),
        "recall@1_fused": share(yes, lambda r: r["rank1_before"]),
        "recall@1_reranked": share(yes, lambda r: r["rank1_after"]),
        "rules_best_extract_right": share(yes, lambda r: r["rules_right"]),  # the default scorer, same questions
        "mean_extract_chars": round(float(np.mean([r["length"] for r in answered])), 1) if answered else None,
    }


def folds(records: list[Record]) -> list[tuple[str, list[int], list[int]]]:
    """(name, training indices, test indices): squad2 by article, news-quiz by time, seeds by file."""
    from sklearn.model_selection import GroupKFold

    out = []
    sets = {r.set for r in records}
    idx = {s: [i for i, r in enumerate(records) if r.set == s] for s in sets}
    for s in sorted(sets):
        others = [i for i in range(len(records)) if records[i].set != s]
        mine = idx[s]
        if s == "news-quiz":
            for start, end in (
                ("2021-01", "2021-07"),
                ("2021-07", "2022-01"),
                ("2022-01", "2022-07"),
                ("2022-07", "2023-01"),
                ("2023-01", "2023-07"),
                ("2023-07", "2024-01"),
            ):
                test = [i for i in mine if start <= records[i].when[:7] < end]
                train = [i for i in mine if records[i].when[:7] < start]
                if test and train:
                    out.append((f"{s} {start}..{end}", others + train, test))
        else:
            groups = [records[i].group for i in mine]
            for n in range(1, len(groups)):  # squad2's unanswerable questions name no article: the one
                groups[n] = groups[n] or groups[n - 1]  # asked beside them (the file goes article by article)
            k = min(5, len(set(groups)))
            if k < 2:
                continue
            for n, (a, b) in enumerate(GroupKFold(n_splits=k).split(mine, groups=groups)):
                out.append((f"{s} fold {n + 1}", others + [mine[i] for i in a], [mine[i] for i in b]))
    return out


def cross_validate(records: list[Record]) -> dict[str, Any]:
    pooled: dict[str, list[dict[str, Any]]] = {}
    per_fold = []
    for name, train, test in folds(records):
        model = fit([records[i] for i in train])
        rows = outcomes(model, [records[i] for i in test])
        pooled.setdefault(records[test[0]].set, []).extend(rows)
        per_fold.append({"fold": name, "threshold": round(model.threshold, 4), **metrics(rows)})
        print(f"  {name}: {json.dumps(per_fold[-1])}", file=sys.stderr)
    return {"sets": {s: metrics(rows) for s, rows in sorted(pooled.items())}, "folds": per_fold}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--sets",
        nargs="+",
        default=TRAINABLE,
        choices=TRAINABLE,
        help="sets to train on (default: news-quiz, squad2, seeds)",
    )
    p.add_argument(
        "--check",
        nargs="*",
        default=["seeds-final"],
        choices=list(SETS),
        help="sets not trained on, measured with the final weights (default: the never-tuned seed set)",
    )
    p.add_argument("--sample", type=int, help="at most this many questions per set (spread over the set)")
    p.add_argument("--out", default=str(scorer.WEIGHTS), help="weights file to write (default qa/weights/answer.json)")
    p.add_argument("--index-root", default=str(EVAL / "reports" / "train-index"))
    p.add_argument("--cache", default=str(EVAL / "reports" / "train-cache"))
    p.add_argument("--no-cv", action="store_true", help="skip cross-validation (the file then has no cv numbers)")
    p.add_argument("--no-question-dates", action="store_true", help="no time logic: not as of any date")
    args = p.parse_args(argv)
    from qa.embed import ModelEmbedder

    embedder = ModelEmbedder(config.default_model())
    records: list[Record] = []
    dates = not args.no_question_dates
    for name in args.sets:
        records += collect(name, Path(args.index_root), Path(args.cache), embedder, args.sample, dates)
    cv = None if args.no_cv else cross_validate(records)
    model = fit(records)
    checks = {}
    for name in args.check:
        if name not in args.sets:
            check = collect(name, Path(args.index_root), Path(args.cache), embedder, args.sample, dates)
            checks[name] = metrics(outcomes(model, check))
    model.meta = {
        "trained": date.today().isoformat(),
        "learner": f"candidates: a softmax over each question's extracts (L-BFGS, L2 {L2}); passages and "
        f"confidence: scikit-learn LogisticRegression(C={C}); all on standardised features",
        "rule": "threshold: the highest confidence under which at most 5 % of the answerable training questions "
        "fall, each set weighing as in the fit",
        "rerank_passages": RERANK,
        "trained_on": [
            {
                "set": name,
                "files": [str(f.relative_to(ROOT.parent)) for f in SETS[name]["questions"]],
                "sha256": digest(SETS[name]["questions"]),
                "questions": sum(1 for r in records if r.set == name),
                "answerable": sum(1 for r in records if r.set == name and r.answerable),
            }
            for name in args.sets
        ],
        "cross_validated": cv["sets"] if cv else None,
        "never_trained_on": checks or None,
        "cv_folds": cv["folds"] if cv else None,
    }
    out = Path(args.out)
    out.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} (threshold {model.threshold:.4f})", file=sys.stderr)
    print(json.dumps({"cross_validated": model.meta["cross_validated"], "never_trained_on": checks}, indent=1))
    return model.to_dict()


if __name__ == "__main__":
    main()
