"""Messages that worker threads post to the app, and the helpers those threads use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message
from textual.worker import get_current_worker

from qa.errors import IndexCorrupt, IndexMismatch, QAError
from qa.tui.format import Source

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.filters import Filters
    from qa.service import Status
    from qa.timeline import Evidence
    from qa.tui.widgets import AnswerCard, TimelineCard

T = TypeVar("T")


# --- messages posted by worker threads ---------------------------------------------------------------
class IndexOpened(Message):
    """The reader is open; the model may still be loading."""

    def __init__(self, status: Status) -> None:
        super().__init__()
        self.status = status


class ModelReady(Message):
    """The model answered its first question: questions can be asked."""


class LoadFailed(Message):
    def __init__(self, error: str, offer_rebuild: bool) -> None:
        super().__init__()
        self.error = error
        self.offer_rebuild = offer_rebuild


class IndexProgress(Message):
    def __init__(self, label: str, phase: str, done: int, total: int) -> None:
        super().__init__()
        self.label, self.phase, self.done, self.total = label, phase, done, total


class IndexDone(Message):
    """An index run finished; `status` is None for the run at start, which goes on to load."""

    def __init__(self, summary: str, status: Status | None) -> None:
        super().__init__()
        self.summary, self.status = summary, status


class IndexFailed(Message):
    def __init__(self, error: str, offer_rebuild: bool) -> None:
        super().__init__()
        self.error = error
        self.offer_rebuild = offer_rebuild


class AnswerReady(Message):
    def __init__(self, card: AnswerCard, answer: Answer) -> None:
        super().__init__()
        self.card, self.answer = card, answer


class TimelineReady(Message):
    """A question's evidence by date, and the filters typed with it."""

    def __init__(self, card: TimelineCard, evidence: list[Evidence], filters: Filters) -> None:
        super().__init__()
        self.card, self.evidence, self.filters = card, evidence, filters


class AnswerFailed(Message):
    def __init__(self, card: AnswerCard, error: str) -> None:
        super().__init__()
        self.card, self.error = card, error


class StaleChecked(Message):
    """The corpus compared with the index. `changed`: another process changed the index since it was opened."""

    def __init__(self, state: str, status: Status | None, changed: bool = False) -> None:
        super().__init__()
        self.state, self.status, self.changed = state, status, changed


class IndexReloaded(Message):
    """The index another process changed is open; or, with `error`, could not be opened."""

    def __init__(self, status: Status | None, error: str | None = None) -> None:
        super().__init__()
        self.status, self.error = status, error


class CorpusChanged(Message):
    pass


class ArticleFetched(Message):
    """The article's text; None when it left the index; or an error."""

    def __init__(self, source: Source, text: str | None, error: str | None = None) -> None:
        super().__init__()
        self.source, self.text, self.error = source, text, error


class Cancelled(Exception):
    """The worker was cancelled (the app is closing, or a newer question came): stop without a word."""


def in_daemon(fn: Callable[[], T]) -> T:
    """Run fn in a daemon thread and wait for it from a worker thread, giving up when the worker is cancelled.

    Loading the model or syncing the index takes seconds and cannot be interrupted; in a worker thread it would
    hold the app's exit until done (the executor is joined), in a daemon thread it dies with the process."""
    worker = get_current_worker()
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the waiting worker
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=run, name="qa-load", daemon=True).start()
    while not done.wait(0.05):
        if worker.is_cancelled:
            raise Cancelled
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def describe(error: BaseException) -> str:
    """One line for the person: domain errors carry their own, anything else gets its type."""
    if isinstance(error, QAError):
        return str(error)
    first = (str(error).splitlines() or [""])[0][:200]
    return f"unexpected {type(error).__name__}: {first}"


def offers_rebuild(error: BaseException) -> bool:
    """Errors a rebuild from the corpus repairs."""
    return isinstance(error, (IndexCorrupt, IndexMismatch))


def stale_state(status: Status) -> str:
    """The status line's last part: how current the index is."""
    if not status.built:
        return "no index yet"
    counts = ((len(status.new), "new"), (len(status.changed), "changed"), (len(status.removed), "removed"))
    parts = [f"{n} {what}" for n, what in counts if n]
    return "stale: " + ", ".join(parts) if parts else "up to date"
