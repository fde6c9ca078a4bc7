"""Measure retrieval and answers on our question set and on BEIR data sets; write, print and compare reports."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa import config
from qa.dates import DateError, parse_date
from qa.errors import QAError
from qa.filters import Filters
from qa.ingest import shorten
from qa.metrics import ranking_metrics

if TYPE_CHECKING:
    from qa.embed import Embedder
    from qa.retrieve import Retriever
    from qa.sync import Progress, SyncReport

# The bundled question set, when running from a source checkout (an installed qa needs --questions).
QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl"
ARTICLE_DEPTH = 100  # passages searched to rank articles for recall@k / MRR@10 on the question set
BEIR_PASSAGES = 300  # passages searched per BEIR query: enough for 100 distinct documents (≈2.5 passages each)
QUESTION_METRICS = ("recall@1", "recall@3", "recall@5", "mrr@10")
BEIR_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
# Release gates of issue 5 (bundled question set, hybrid mode): (metric, comparison, threshold)
TARGETS = (
    ("answer_accuracy", ">=", 0.95),
    ("unanswerable_flagged", ">=", 0.80),
    ("answerable_wrongly_flagged", "<=", 0.05),
)


class EvalError(QAError):
    """A question set or BEIR folder that cannot be read."""


# --- inputs ------------------------------------------------------------------------------------------
@dataclass
class Question:
    question: str
    answers: list[str]
    article: str | None  # gold article id or path; None for questions the corpus cannot answer
    answerable: bool
    date: date | None = None  # the day it was asked: answered as of then (news quizzes)


def questions_file(path: str | None) -> Path:
    """The question set to run: the one given, else the bundled one of a source checkout."""
    if path:
        return Path(path).expanduser()
    if QUESTIONS.is_file():
        return QUESTIONS
    raise EvalError("no question set given: pass --questions FILE (one JSON object a line)")


def load_questions(path: Path | str) -> list[Question]:
    """One JSON object a line: question, answers, article, answerable."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise EvalError(f"cannot read question set {path}: {e.strerror or e}") from e
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            q = Question(
                question=str(obj["question"]),
                answers=[str(a) for a in obj.get("answers") or []],
                article=obj.get("article") or None,
                answerable=bool(obj.get("answerable", True)),
                date=parse_date(obj["date"]) if obj.get("date") else None,
            )
        except (json.JSONDecodeError, KeyError, TypeError, DateError) as e:
            raise EvalError(f"{path}:{n}: not a question object ({e})") from e
        if q.answerable and not (q.answers and q.article):
            raise EvalError(f"{path}:{n}: an answerable question needs answers and an article")
        out.append(q)
    if not out:
        raise EvalError(f"{path} holds no questions")
    return out


_PUNCT = str.maketrans("‘’“”–—", "''\"\"--")


def _norm(text: str) -> str:
    """Case, width, curly quotes, dashes and spacing do not decide whether an extract holds an answer."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_PUNCT)
    return " ".join(text.split())


def contains_answer(extract: str | None, answers: Iterable[str]) -> bool:
    if not extract:
        return False
    text = _norm(extract)
    return any(_norm(a) and _norm(a) in text for a in answers)


# --- ranking -----------------------------------------------------------------------------------------
def distinct_articles(hits: Iterable[Any]) -> list[str]:
    """Article ids in the order of their first (best) passage."""
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(h.article_id, None)
    return list(seen)


# --- the question set --------------------------------------------------------------------------------
def _gold_id(retriever: Any, gold: str, hits: list[Any]) -> str:
    """The gold article may be given by id or by path: resolve it to the id hits carry."""
    if retriever.article(gold) is not None:
        return gold
    for h in hits:
        if h.path == gold:
            return str(h.article_id)
    return gold


def run_questions(
    retriever: Retriever,
    questions: list[Question],
    mode: str = "hybrid",
    k: int = 5,
    progress: Progress | None = None,
    filters: Filters | None = None,
    as_of: date | None = None,
    question_dates: bool = True,
    min_confidence: float | None = None,
    scorer: str = "rules",
) -> dict[str, Any]:
    """Every question through the same search and answer code as `qa ask`; a report dict. Each question
    is answered as of its own `date` when it has one (and `question_dates`), else as of `as_of`. It is
    answered once with its best extract and confidence, then refused below the threshold (the calibrated
    one, or `min_confidence`), so the report also holds the whole confidence trade-off."""
    from qa.answer import answer, threshold

    cut = threshold(scorer) if min_confidence is None else min_confidence

    rows: list[dict[str, Any]] = []
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, list[str]] = {}
    for n, q in enumerate(questions):
        qid = str(n)
        when = q.date if question_dates and q.date else as_of
        result = answer(
            retriever, q.question, k=k, mode=mode, filters=filters, as_of=when, min_confidence=0.0, which=scorer
        )
        shown = {h.chunk_id for h in result.hits}  # the answer's ranking first (the learned scorer reranks)
        rest = retriever.search(q.question, k=ARTICLE_DEPTH, mode=mode, filters=filters, as_of=when)
        hits = result.hits + [h for h in rest if h.chunk_id not in shown]
        ranked = distinct_articles(hits)
        gold = _gold_id(retriever, q.article, hits) if q.article else None
        rank = ranked.index(gold) + 1 if gold in ranked else None
        confidence = result.confidence or 0.0
        answered = result.answered and confidence >= cut
        right = q.answerable and result.answered and contains_answer(result.text, q.answers)
        correct = right and answered
        cited = result.citation.article_id if answered and result.citation else None
        ok = bool(correct) if q.answerable else not answered
        if q.answerable and gold:
            qrels[qid] = {gold: 1}
            run[qid] = ranked
        rows.append(
            {
                "id": qid,
                "question": q.question,
                "answerable": q.answerable,
                "answers": q.answers,
                "gold_article": gold,
                "article_rank": rank,
                "answered": answered,
                "extract": result.text if answered else None,
                "cited_article": cited,
                "score": round(float(result.score), 4),
                "confidence": round(confidence, 4),
                "best_extract_right": bool(right),  # whatever the threshold: for the trade-off
                "extract_chars": len(result.text or ""),
                "top_articles": ranked[:3],
                "correct": bool(correct),
                "ok": ok,
                "why": None if ok else _why(q, answered, correct, cited, gold),
            }
        )
        if progress:
            progress("questions", n + 1, len(questions))
    means, per_query = ranking_metrics(qrels, run, QUESTION_METRICS)
    for row in rows:
        if row["id"] in per_query["mrr@10"]:
            row["rr@10"] = round(per_query["mrr@10"][row["id"]], 4)
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    metrics: dict[str, float | None] = {m: round(v, 4) for m, v in means.items()}
    metrics["answer_accuracy"] = _share(answerable, lambda r: r["correct"])
    metrics["answer_cites_gold_article"] = _share(answerable, lambda r: r["cited_article"] == r["gold_article"])
    metrics["unanswerable_flagged"] = _share(unanswerable, lambda r: not r["answered"])
    metrics["answerable_wrongly_flagged"] = _share(answerable, lambda r: not r["answered"])
    answered_rows = [r for r in rows if r["answered"]]
    metrics["mean_extract_chars"] = (
        round(sum(r["extract_chars"] for r in answered_rows) / len(answered_rows), 1) if answered_rows else None
    )
    return {
        "kind": "questions",
        "mode": mode,
        "k": k,
        "scorer": scorer,
        "threshold": round(cut, 4),
        "tradeoff": tradeoff(rows),
        "counts": {"questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable)},
        "metrics": metrics,
        "targets": check_targets(metrics),
        "questions": rows,
        "failed": [r for r in rows if not r["ok"]],
    }


def tradeoff(rows: list[dict[str, Any]], steps: int = 50) -> list[dict[str, float | None]]:
    """For thresholds 0 to 1: the share of questions answered, the share of answers that are right (an
    answer to a question the corpus cannot answer is wrong), and the share of each kind refused."""

    def ratio(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    yes = [r for r in rows if r["answerable"]]
    out = []
    for i in range(steps + 1):
        t = i / steps
        answered = [r for r in rows if r["extract_chars"] and r["confidence"] >= t]
        answered_yes = sum(1 for r in answered if r["answerable"])
        out.append(
            {
                "threshold": round(t, 4),
                "answered": ratio(len(answered), len(rows)),
                "accuracy": ratio(sum(1 for r in answered if r["best_extract_right"]), len(answered)),
                "answerable_refused": ratio(len(yes) - answered_yes, len(yes)),
                "unanswerable_refused": ratio(
                    len(rows) - len(yes) - (len(answered) - answered_yes), len(rows) - len(yes)
                ),
            }
        )
    return out


def plot_tradeoff(report: dict[str, Any], path: Path) -> None:
    """Answered share and accuracy against the confidence threshold (PNG), the default marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = report["tradeoff"]
    x = [p["threshold"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label in (
        ("answered", "questions answered"),
        ("accuracy", "answers that are right"),
        ("answerable_refused", "answerable questions refused"),
        ("unanswerable_refused", "unanswerable questions refused"),
    ):
        ax.plot(x, [p[key] if p[key] is not None else float("nan") for p in points], label=label)
    ax.axvline(report["threshold"], color="grey", linestyle="--", linewidth=1)
    ax.text(report["threshold"], 0.02, f" default {report['threshold']:.2f}", color="grey", fontsize=8)
    ax.set_xlabel("--min-confidence")
    ax.set_ylabel("share")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left")
    ax.set_title(f"qa eval: {_title(report)}", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)


def _why(q: Question, answered: bool, correct: bool, cited: str | None, gold: str | None) -> str:
    if not q.answerable:
        return "answered a question the corpus cannot answer"
    if not answered:
        return "flagged as unanswered"
    if cited != gold:
        return "extract from another article, without a gold answer"
    return "extract does not contain a gold answer"


def _share(rows: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> float | None:
    return round(sum(1 for r in rows if test(r)) / len(rows), 4) if rows else None


def check_targets(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, op, threshold in TARGETS:
        value = metrics.get(name)
        passed = value is not None and (value >= threshold if op == ">=" else value <= threshold)
        out.append({"metric": name, "target": f"{op} {threshold}", "value": value, "passed": passed})
    return out


# --- BEIR data sets ----------------------------------------------------------------------------------
def beir_files(folder: Path, split: str) -> tuple[Path, Path, Path]:
    folder = Path(folder)
    corpus, queries, qrels = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"
    for f in (corpus, queries, qrels):
        if not f.is_file():
            raise EvalError(f"{folder} is not a BEIR folder: {f.relative_to(folder)} is missing")
    return corpus, queries, qrels


def default_beir_index(folder: Path) -> Path:
    """In the user's data folder, apart from article indexes: <data>/beir/<set name>."""
    return config.data_dir() / "beir" / Path(folder).resolve().name


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        parts = line.split("\t")
        if len(parts) < 3 or (n == 0 and not parts[2].strip().lstrip("-").isdigit()):
            continue  # the header, or a blank line
        qid, did, score = parts[0].strip(), parts[1].strip(), int(parts[2])
        if score > 0:  # BEIR and trec_eval: relevance 0 means judged not relevant
            qrels.setdefault(qid, {})[did] = score
    return qrels


def read_queries(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            out[str(obj["_id"])] = str(obj["text"])
    return out


def _corpus_view(corpus: Path, index_dir: Path) -> Path:
    """A folder holding only corpus.jsonl (a link to it), so queries.jsonl is not indexed as articles."""
    view = index_dir / ".beir-corpus"
    view.mkdir(parents=True, exist_ok=True)
    link = view / "corpus.jsonl"
    if link.is_symlink() and link.resolve() == corpus.resolve():
        return view
    link.unlink(missing_ok=True)
    try:
        link.symlink_to(corpus.resolve())
    except OSError:  # no symlinks here (some file systems): a copy does the same
        import shutil

        shutil.copy2(corpus, link)
    return view


def index_beir(corpus: Path, index_dir: Path, embedder: Embedder, progress: Progress | None = None) -> SyncReport:
    """Index corpus.jsonl (title + text per record) through the same Indexer as `qa index`."""
    from qa.sync import Indexer

    index_dir.mkdir(parents=True, exist_ok=True)
    view = _corpus_view(Path(corpus), index_dir)
    # retrieval alone needs no sentence vectors: skipping them halves the indexing time
    return Indexer(view, index_dir, embedder, progress, sentence_vectors=False).run()


def run_beir(
    folder: Path | str,
    split: str = "test",
    mode: str = "hybrid",
    index_dir: Path | str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """nDCG@10, recall@10/@100 and MRR@10 of one BEIR split; builds (or reuses) its own index first."""
    from qa.retrieve import Retriever

    folder = Path(folder)
    corpus, queries_file, qrels_file = beir_files(folder, split)
    index_dir = Path(index_dir) if index_dir else default_beir_index(folder)
    if embedder is None:
        from qa.embed import ModelEmbedder

        embedder = ModelEmbedder(config.default_model())
    sync = index_beir(corpus, index_dir, embedder, progress)
    qrels = read_qrels(qrels_file)
    queries = read_queries(queries_file)
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise EvalError(f"{qrels_file.name}: {len(missing)} query id(s) not in queries.jsonl, e.g. {missing[0]}")
    retriever = Retriever(index_dir, embedder)
    run: dict[str, list[str]] = {}
    try:
        for n, qid in enumerate(qrels, 1):
            hits = retriever.search(queries[qid], k=BEIR_PASSAGES, mode=mode)
            run[qid] = [a.split("#", 1)[-1] for a in distinct_articles(hits)][:ARTICLE_DEPTH]
            if progress:
                progress("searching", n, len(qrels))
        docs = retriever.catalog.counts()[0]
    finally:
        retriever.close()
    means, per_query = ranking_metrics(qrels, run, BEIR_METRICS)
    return {
        "kind": "beir",
        "dataset": folder.resolve().name,
        "split": split,
        "mode": mode,
        "index": str(index_dir),
        "counts": {"documents": docs, "queries": len(qrels)},
        "indexing": {"added": sync.added, "unchanged": sync.unchanged, "seconds": round(sync.seconds, 1)},
        "metrics": {m: round(v, 4) for m, v in means.items()},
        "per_query": {qid: round(s, 4) for qid, s in per_query["ndcg@10"].items()},
    }


# --- reports -----------------------------------------------------------------------------------------
def run_settings(model: str, **extra: Any) -> dict[str, Any]:
    """Everything the numbers depend on, recorded with them."""
    from qa import answer, retrieve

    return {
        "model": model,
        "chunk_target_tokens": config.CHUNK_TARGET_TOKENS,
        "chunk_overlap_sentences": config.CHUNK_OVERLAP_SENTENCES,
        "dense_weight": retrieve.DENSE_WEIGHT,
        "candidates": retrieve.CANDIDATES,
        "answer_passages": answer.RERANK,
        **extra,
    }


def stamp(report: dict[str, Any], model: str, **extra: Any) -> dict[str, Any]:
    report["date"] = datetime.now().astimezone().isoformat(timespec="seconds")
    report["model"] = model
    report["settings"] = run_settings(model, **extra)
    return report


def report_name(report: dict[str, Any]) -> str:
    when = re.sub(r"[^0-9T]", "", report.get("date", "")[:19]) or datetime.now().strftime("%Y%m%dT%H%M%S")
    if report["kind"] == "beir":
        return f"{when}-beir-{report['dataset']}-{report['split']}-{report['mode']}"
    questions = Path(report.get("settings", {}).get("questions", "questions")).stem  # questions-test, ...
    return f"{when}-{questions}-{report['mode']}"


def write_report(report: dict[str, Any], folder: Path | str) -> tuple[Path, Path]:
    """JSON (for --compare) and Markdown (for people), written whole or not at all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / report_name(report)
    paths = base.with_suffix(".json"), base.with_suffix(".md")
    for path, text in zip(paths, (json.dumps(report, indent=1, ensure_ascii=False) + "\n", to_markdown(report))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    if report.get("tradeoff"):
        plot_tradeoff(report, base.with_suffix(".png"))  # answered share and accuracy by confidence threshold
    return paths


def load_report(path: Path | str) -> dict[str, Any]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise EvalError(f"cannot read report {path}: {e}") from e
    if not isinstance(report, dict) or report.get("kind") not in ("questions", "beir"):
        raise EvalError(f"{path} is not a `qa eval` report")
    return report


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def to_markdown(report: dict[str, Any], comparison: dict[str, Any] | None = None) -> str:
    comparison = comparison or report.get("comparison")
    lines = [f"# qa eval: {_title(report)}", ""]
    lines += [f"- date: {report.get('date', '')}", f"- model: {report.get('model', '')}", f"- mode: {report['mode']}"]
    for key, value in (report.get("settings") or {}).items():
        if key != "model":
            lines.append(f"- {key}: {value}")
    lines += ["", "| metric | value |", "| --- | --- |"]
    lines += [f"| {m} | {_fmt(v)} |" for m, v in report["metrics"].items()]
    if report.get("targets"):
        lines += [
            "",
            "## Release gates of the bundled seed set",
            "",
            "| metric | target | value | |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {t['metric']} | {t['target']} | {_fmt(t['value'])} | {'pass' if t['passed'] else 'FAIL'} |"
            for t in report["targets"]
        ]
    if report["kind"] == "questions":
        lines += ["", f"## Failed questions ({len(report['failed'])})", ""]
        for r in report["failed"]:
            lines += [f"- **{r['question']}** — {r['why']}"]
            lines += [f"  - returned: {_returned(r)}"]
            if r["answerable"]:
                lines += [
                    f"  - gold: {' | '.join(r['answers'])} ({r['gold_article']}, article rank {r['article_rank']})"
                ]
    if comparison:
        lines += ["", *compare_lines(comparison)]
    return "\n".join(lines) + "\n"


def to_text(report: dict[str, Any], comparison: dict[str, Any] | None = None) -> str:
    """The terminal form: the metrics table, the gates, then every failure with what was returned."""
    comparison = comparison or report.get("comparison")
    lines = [f"{_title(report)}; mode {report['mode']}, model {report.get('model', '')}", ""]
    width = max(len(m) for m in report["metrics"])
    lines += [f"  {m:<{width}}  {_fmt(v)}" for m, v in report["metrics"].items()]
    for t in report.get("targets", []):
        verdict = "pass" if t["passed"] else "FAIL"  # the bundled seed set's release gates (issue 5)
        lines.append(f"  seed-set gate {t['metric']} {t['target']}: {_fmt(t['value'])} {verdict}")
    if report["kind"] == "questions":
        lines += ["", f"{len(report['failed'])} failed question(s)" + (":" if report["failed"] else "")]
        for r in report["failed"]:
            lines.append(f"- {r['question']}  [{r['why']}]")
            lines.append(f"    returned: {_returned(r)}")
            if r["answerable"]:
                lines.append(
                    f"    gold: {' | '.join(r['answers'])} in {r['gold_article']} (article rank {r['article_rank']})"
                )
    if comparison:
        lines += ["", *compare_lines(comparison)]
    return "\n".join(lines).rstrip() + "\n"


def _title(report: dict[str, Any]) -> str:
    if report["kind"] == "beir":
        return f"BEIR {report['dataset']} ({report['split']}), {report['counts']['queries']} queries"
    c = report["counts"]
    return f"question set, {c['questions']} questions ({c['answerable']} answerable)"


def _returned(row: dict[str, Any]) -> str:
    if not row["answered"]:
        return f"no answer (score {row['score']}); top articles {', '.join(row['top_articles'])}"
    extract = " ".join((row["extract"] or "").split())
    extract = shorten(extract, 240)
    return f'"{extract}" ({row["cited_article"]}, score {row["score"]})'


# --- comparing two runs ------------------------------------------------------------------------------
def compare(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Metric deltas, and the questions (or BEIR queries) that got worse and better."""
    if previous.get("kind") != current.get("kind"):
        raise EvalError(f"cannot compare a {previous.get('kind')} report with a {current.get('kind')} report")
    deltas = {
        m: round(current["metrics"][m] - previous["metrics"][m], 4)
        for m in current["metrics"]
        if isinstance(current["metrics"].get(m), (int, float)) and isinstance(previous["metrics"].get(m), (int, float))
    }
    worse: list[dict[str, Any]] = []
    better: list[dict[str, Any]] = []
    if current["kind"] == "questions":
        before = {r["question"]: r for r in previous["questions"]}
        for r in current["questions"]:
            old = before.get(r["question"])
            if old is None:
                continue
            change = _question_change(old, r)
            if change:
                (worse if change[0] < 0 else better).append(
                    {"question": r["question"], "change": change[1], "now": _returned(r), "before": _returned(old)}
                )
    else:
        before_q = previous.get("per_query", {})
        for qid, score in current.get("per_query", {}).items():
            if qid in before_q and abs(score - before_q[qid]) > 1e-9:
                entry = {
                    "query": qid,
                    "change": f"nDCG@10 {before_q[qid]:.4f} → {score:.4f}",
                    "delta": round(score - before_q[qid], 4),
                }
                (worse if score < before_q[qid] else better).append(entry)
        worse.sort(key=lambda e: e["delta"])
        better.sort(key=lambda e: -e["delta"])
    return {"previous": previous.get("date"), "deltas": deltas, "worse": worse, "better": better}


def _question_change(old: dict[str, Any], new: dict[str, Any]) -> tuple[int, str] | None:
    """(-1 worse / +1 better, what changed); the outcome counts first, then the gold article's rank."""
    if old["ok"] != new["ok"]:
        what = "now fails: " + (new["why"] or "") if old["ok"] else "now passes"
        return (1 if new["ok"] else -1), what
    a, b = old.get("article_rank"), new.get("article_rank")
    if new["answerable"] and a != b:
        worse = b is None or (a is not None and b > a)
        return (-1 if worse else 1), f"gold article rank {a} → {b}"
    return None


def compare_lines(comparison: dict[str, Any], limit: int = 50) -> list[str]:
    lines = [f"## Compared with the run of {comparison['previous']}", ""]
    if comparison["deltas"]:
        lines.append("metric changes: " + ", ".join(f"{m} {d:+.4f}" for m, d in comparison["deltas"].items()))
        lines.append("")
    for label in ("worse", "better"):
        items = comparison[label]
        lines.append(f"{len(items)} got {label}" + (":" if items else ""))
        for e in items[:limit]:
            name = e.get("question") or f"query {e.get('query')}"
            lines.append(f"- {name}: {e['change']}")
        if len(items) > limit:
            lines.append(f"- … and {len(items) - limit} more")
        lines.append("")
    return lines
