"""The `qa` command: a thin layer over the library that validates, calls and prints."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import QAError

if TYPE_CHECKING:
    from qa.answer import Answer, Citation
    from qa.filters import Filters
    from qa.service import Library
    from qa.sync import Progress, SyncReport
    from qa.timeline import Evidence


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quantize",
        action="store_true",
        help="use the int8 model (faster indexing; recorded in the index: switching needs --rebuild), or $QA_QUANTIZE",
    )
    p.add_argument("--corpus", help="folder of articles (default: the bundled seeds, or $QA_CORPUS)")
    p.add_argument("--index", help="index folder (default: one per corpus in the user's data folder, or $QA_INDEX)")
    p.add_argument(
        "--model", help="sentence-transformers model name or path (default: bundled all-MiniLM-L6-v2, or $QA_MODEL)"
    )


def _answers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="answer only when the extract is at least this likely right, 0-1 (default: the calibrated "
        "threshold; `qa eval --report DIR` draws the trade-off)",
    )
    p.add_argument(
        "--scorer",
        choices=("rules", "learned"),
        default="rules",
        help="rules: the hand-weighted score (default); learned: the model trained on news-quiz, squad2 and "
        "the seeds (eval/train.py)",
    )


def _check_confidence(value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise QAError("--min-confidence is a probability: give a number from 0 to 1")


def _time(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--as-of", metavar="DATE", help="answer as of this date (default today): later articles do not answer"
    )
    p.add_argument("--since", metavar="DATE", help="only articles dated on or after DATE (YYYY-MM-DD, YYYY-MM, YYYY)")
    p.add_argument("--until", metavar="DATE", help="only articles dated on or before DATE")
    p.add_argument("--outlet", metavar="NAME", action="append", help="only articles from this outlet (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of a folder of news articles.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("ask", help="answer a question with a cited extract from the corpus")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="passages to show (default 5)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    p.add_argument("--no-sync", action="store_true", help="do not bring the index up to date first")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeline", action="store_true", help="list the evidence by date instead of one answer")
    _answers(p)
    _time(p)
    _common(p)

    p = sub.add_parser("index", help="bring the index in line with the corpus folder")
    p.add_argument("--rebuild", action="store_true", help="discard the index and build it again")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _common(p)

    p = sub.add_parser("status", help="what is indexed and what is stale")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("watch", help="re-index whenever articles are added, changed or removed")
    _common(p)

    p = sub.add_parser("eval", help="measure retrieval and answers on the question set or a BEIR data set")
    p.add_argument("--questions", help="question set, one JSON object a line (default: eval/questions.jsonl)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    p.add_argument("-k", type=int, default=5, help="passages per answer (default 5)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--compare", metavar="PREVIOUS", help="an earlier report (.json): list what got worse and better")
    p.add_argument("--beir", metavar="DIR", help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    p.add_argument("--split", default="test", help="qrels split for --beir (default test)")
    p.add_argument("--report", metavar="DIR", help="write the report (JSON and Markdown) into this folder")
    p.add_argument("--no-sync", action="store_true", help="do not bring the index up to date first")
    p.add_argument(
        "--no-question-dates",
        action="store_true",
        help="ignore the questions' own dates: no time logic unless --as-of is given",
    )
    _answers(p)
    _time(p)  # a question with its own "date" is answered as of that date, whatever --as-of says
    _common(p)  # with --beir, --index is the BEIR set's own index (default: <data folder>/beir/NAME)

    p = sub.add_parser("tui", help="open the terminal UI (the default)")
    _common(p)
    return parser


def main(argv: Sequence[str] | None = None, library: Callable[[Settings], Library] | None = None) -> None:
    """`library`: how to open a corpus and index (default: the service's Library with the real model)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["tui", *argv]  # `qa` and `qa --index X` open the UI
    args = build_parser().parse_args(argv)
    args.open_library = library
    command = args.command
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
    try:
        COMMANDS[command](args)
    except QAError as e:
        error(str(e))
    except KeyboardInterrupt:
        error("interrupted; the index keeps its last complete state")
    except OSError as e:  # a file or folder that vanished or cannot be read or written
        error(f"{e.strerror or e}: {e.filename}" if e.filename else str(e.strerror or e))
    except Exception as e:
        # sqlite3 is imported by whatever opens a catalogue (not here: the TUI paints before it loads)
        sqlite3 = sys.modules.get("sqlite3")
        if sqlite3 is None or not isinstance(e, sqlite3.DatabaseError):
            raise
        error(f"the index catalogue cannot be read ({e}): run `qa index --rebuild`")  # damage found after opening


def error(message: str, code: int = 1) -> None:
    from qa.ingest import printable

    print(f"qa: error: {printable(message)}", file=sys.stderr)  # one line; no raw escape sequences
    raise SystemExit(code)


def warn(message: str) -> None:
    from qa.ingest import printable

    print(f"qa: warning: {printable(message)}", file=sys.stderr)


def library_of(args: argparse.Namespace) -> Library:
    settings = Settings.from_options(args.corpus, args.index, args.model, quantize=args.quantize or None)
    if args.open_library is not None:
        return args.open_library(settings)  # type: ignore[no-any-return]
    from qa.service import Library

    return Library(settings, warn=warn)


def progress_bar() -> tuple[Progress, Callable[[], None]]:
    """A rich progress bar on stderr, shown only once embedding starts."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            if not tasks:
                bar.start()
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    return update, bar.stop


def run_index(library: Library, rebuild: bool = False, quiet: bool = False) -> SyncReport:
    update, stop = progress_bar()
    try:
        report = library.index(rebuild=rebuild, progress=update)
    finally:
        stop()
    if not quiet:
        print(report.summary(), file=sys.stderr)
    return report


def cmd_index(args: argparse.Namespace) -> None:
    report = run_index(library_of(args), rebuild=args.rebuild, quiet=args.json)
    if args.json:
        print(json.dumps(report.to_dict()))


def cmd_status(args: argparse.Namespace) -> None:
    status = library_of(args).status()
    if args.json:
        print(json.dumps(status.to_dict()))
        return
    print(f"corpus   {status.corpus}")
    print(f"index    {status.index} ({status.size_bytes / 2**20:.1f} MB)")
    if not status.built:
        print("status   not built yet; run `qa index` (or just ask: `qa ask` builds it)")
        return
    if status.outdated:
        print("status   written by an older qa; run `qa index` to update it (nothing is re-embedded)")
        return
    print(f"model    {status.indexed_model}")
    print(f"indexed  {status.articles} articles, {status.chunks} passages; {status.undated} articles without a date")
    if not status.stale:
        print("status   up to date")
        return
    print(
        f"status   stale: {len(status.new)} new, {len(status.changed)} changed, "
        f"{len(status.removed)} removed file(s); run `qa index`"
    )
    for key in ("new", "changed", "removed"):
        for rel in getattr(status, key):
            print(f"  {key:8} {rel}")


def cmd_watch(args: argparse.Namespace) -> None:
    from watchfiles import watch

    library = library_of(args)
    run_index(library)
    print(f"watching {library.settings.corpus} (ctrl+c to stop)", file=sys.stderr)
    for _changes in watch(library.settings.corpus, debounce=1000, raise_interrupt=False):
        try:
            run_index(library)
        except QAError as e:
            print(f"qa: error: {e}", file=sys.stderr)


def time_limits(args: argparse.Namespace) -> tuple[Filters, date | None]:
    """--since/--until/--outlet as Filters, and --as-of; a bad date is a one-line error."""
    from qa.dates import DateError, parse_date
    from qa.filters import Filters

    since, until = parse_date(args.since), parse_date(args.until, end=True)
    if since and until and since > until:
        raise DateError(f"--since {since} is after --until {until}: nothing can match")
    outlets = tuple(dict.fromkeys(o.strip() for o in args.outlet or () if o.strip()))
    return Filters(since, until, outlets), parse_date(args.as_of, end=True)


def cmd_ask(args: argparse.Namespace) -> None:
    from qa.retrieve import check_question

    question = check_question(args.question)  # fail fast, before any model loads
    if args.k < 1:
        raise QAError("-k must be at least 1")
    _check_confidence(args.min_confidence)
    filters, as_of = time_limits(args)
    library = library_of(args)
    if not args.no_sync:
        update, stop = progress_bar()
        try:
            report = library.refresh(progress=update)
        finally:
            stop()
        if report is not None:
            print(report.summary(), file=sys.stderr)
    if args.timeline:
        evidence = library.timeline(question, k=max(args.k, 20), filters=filters, as_of=as_of or date.today())
        if args.json:
            print(json.dumps([e.to_dict() for e in evidence], ensure_ascii=False))
        else:
            print_timeline(evidence)
        return
    result = library.ask(
        question,
        k=args.k,
        mode=args.mode,
        sync=False,
        filters=filters,
        as_of=as_of,
        min_confidence=args.min_confidence,
        scorer=args.scorer,
    )
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print_answer(result)


def print_answer(result: Answer) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    console.soft_wrap = not console.is_terminal  # piped: lines as in the article, not cut at 80 columns
    result = _terminal_safe(result)
    c = result.citation
    if result.answered and c is not None and result.text is not None and result.passage is not None:
        if not console.is_terminal:  # no highlight when piped: name the extract first
            console.print(f"Answer: {result.text}\n")
        passage = Text(result.passage)
        passage.stylize("bold yellow", result.start, result.end)
        console.print(passage)
        console.print(Text(f"— {c.title} ({_where(c)})", style="dim"))
        if result.dated_text:
            console.print(Text(f"  dates: {result.dated_text}", style="dim"))
        if result.confidence is not None:
            console.print(
                Text(f"  confidence {result.confidence:.2f} (probability that the extract answers)", style="dim")
            )
        if c.also_at:
            console.print(Text(f"  same article also at: {', '.join(c.also_at)}", style="dim"))
        if result.also_reported_by:
            console.print(Text(f"  also reported by {len(result.also_reported_by)}:", style="dim"))
            for copy in result.also_reported_by:
                console.print(Text(f"    {copy.title} ({_where(copy)})", style="dim"))
        for other in result.also_in:
            console.print(Text(f"  also in: {other.title} ({other.path})", style="dim"))
        if result.conflicts:
            console.print(Text("\nSources differ:", style="bold red"))
            console.print(Text(f"  {c.outlet or c.path}, {c.date or 'undated'}: {result.text}"))
            for conflict in result.conflicts:
                x = conflict.citation
                console.print(Text(f"  {x.outlet or x.path}, {x.date or 'undated'}: {conflict.text}"))
    else:
        confidence = f" (best extract: confidence {result.confidence:.2f})" if result.confidence is not None else ""
        console.print(Text(f"The corpus does not answer this question{confidence}. Closest passages:", style="bold"))
    others = [h for h in result.hits if not (result.answered and h.chunk_id == _answer_chunk(result))]
    if others and result.answered:
        console.print(Text("\nRelated passages", style="bold"))
    for hit in others:
        from qa.ingest import shorten

        snippet = shorten(hit.text, 300)
        console.print(Text(f"[{hit.rank}] {hit.title} ({hit.path}) search score {hit.score:.3f}", style="cyan"))
        console.print(Text(snippet))


def _where(c: Citation) -> str:
    return ", ".join(x for x in (c.outlet, c.date, c.path) if x)


def print_timeline(evidence: list[Evidence]) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    console.soft_wrap = not console.is_terminal
    if not evidence:
        console.print("Nothing in the corpus matches this question.")
    for e in _terminal_safe(evidence):
        console.print(Text(f"{e.date or 'undated':10}  {e.outlet or ''}  {e.title} ({e.path})", style="cyan"))
        console.print(Text(f"            {e.dated_text}"))


def _terminal_safe(obj: Any) -> Any:
    """A copy of a result whose strings show control characters (line breaks apart) as U+FFFD: no escape sequence from a
    file name or an old index reaches the terminal raw, and offsets still hold (one char for one)."""
    import dataclasses

    from qa.ingest import CONTROL

    if isinstance(obj, str):
        return CONTROL.sub(lambda m: "\n" if m.group() == "\n" else "\ufffd", obj)  # paragraphs stay
    if isinstance(obj, list):
        return [_terminal_safe(x) for x in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: _terminal_safe(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **fields)
    return obj


def _answer_chunk(result: Answer) -> int | None:
    for hit in result.hits:
        if result.citation and hit.path == result.citation.path and hit.text == result.passage:
            return hit.chunk_id
    return None


def cmd_eval(args: argparse.Namespace) -> None:
    from qa import evaluate as ev

    if args.k < 1:
        raise QAError("-k must be at least 1")
    _check_confidence(args.min_confidence)
    previous = ev.load_report(args.compare) if args.compare else None  # fail fast, before any model loads
    library = library_of(args)
    settings = library.settings
    update, stop = progress_bar()
    try:
        if args.beir:
            beir_index = Path(args.index).expanduser() if args.index else ev.default_beir_index(Path(args.beir))
            report = ev.run_beir(args.beir, args.split, args.mode, beir_index, library.embedder, update)
            ev.stamp(report, settings.model, beir=str(Path(args.beir).resolve()), passages_per_query=ev.BEIR_PASSAGES)
        else:
            questions_file = ev.questions_file(args.questions)
            questions = ev.load_questions(questions_file)
            filters, as_of = time_limits(args)
            if not args.no_sync:
                library.refresh(progress=update)
            report = ev.run_questions(
                library.retriever(),
                questions,
                args.mode,
                args.k,
                filters=filters,
                as_of=as_of if args.no_question_dates else as_of or date.today(),  # no dates: no time logic
                question_dates=not args.no_question_dates,
                min_confidence=args.min_confidence,
                scorer=args.scorer,
            )
            if questions_file.resolve() != ev.QUESTIONS.resolve():
                report["targets"] = []  # the release gates are the bundled seed set's, not any set's
            ev.stamp(
                report,
                settings.model,
                k=args.k,
                corpus=str(settings.corpus),
                index=str(settings.index),
                questions=str(questions_file),
                as_of=as_of.isoformat() if as_of else "today, or each question's date",
                filters=filters.to_dict(),
            )
    finally:
        stop()
        library.close()
    if previous is not None:
        report["comparison"] = ev.compare(previous, report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(ev.to_text(report), end="")
    if args.report:
        json_path, md_path = ev.write_report(report, args.report)
        print(f"report written to {json_path} and {md_path.name}", file=sys.stderr)


def cmd_tui(args: argparse.Namespace) -> None:
    from qa.tui.app import make_app

    make_app(library_of(args)).run()


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "ask": cmd_ask,
    "index": cmd_index,
    "status": cmd_status,
    "watch": cmd_watch,
    "eval": cmd_eval,
    "tui": cmd_tui,
}
