"""Messages that worker threads post to the app, and the helpers those threads use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message
from textual.worker import get_current_worker

from qa.errors import QAError
from qa.tui.format import Source

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.tui.widgets import AnswerCard

T = TypeVar("T")


# --- messages posted by worker threads ---------------------------------------------------------------
class IndexOpened(Message):
    def __init__(self, counts: tuple[int, int]) -> None:
        super().__init__()
        self.counts = counts


class ModelReady(Message):
    pass


class LoadFailed(Message):
    def __init__(self, error: str, offer_rebuild: bool) -> None:
        super().__init__()
        self.error = error
        self.offer_rebuild = offer_rebuild


class IndexProgress(Message):
    def __init__(self, phase: str, done: int, total: int) -> None:
        super().__init__()
        self.phase, self.done, self.total = phase, done, total


class IndexDone(Message):
    def __init__(self, summary: str, warnings: list[str], counts: tuple[int, int] | None) -> None:
        super().__init__()
        self.summary, self.warnings, self.counts = summary, warnings, counts


class IndexFailed(Message):
    def __init__(self, error: str, offer_rebuild: bool) -> None:
        super().__init__()
        self.error = error
        self.offer_rebuild = offer_rebuild


class AnswerReady(Message):
    def __init__(self, card: AnswerCard, answer: Answer) -> None:
        super().__init__()
        self.card, self.answer = card, answer


class AnswerFailed(Message):
    def __init__(self, card: AnswerCard, error: str) -> None:
        super().__init__()
        self.card, self.error = card, error


class StaleChecked(Message):
    def __init__(self, state: str, counts: tuple[int, int] | None, tag: str | None = None) -> None:
        super().__init__()
        self.state, self.counts, self.tag = state, counts, tag


class IndexReloaded(Message):
    def __init__(self, counts: tuple[int, int]) -> None:
        super().__init__()
        self.counts = counts


class CorpusChanged(Message):
    pass


class ArticleFetched(Message):
    def __init__(self, source: Source, text: str | None) -> None:
        super().__init__()
        self.source, self.text = source, text


class Cancelled(Exception):
    """The worker was cancelled (the app is closing): stop without a word."""


def in_daemon(fn: Callable[[], T]) -> T:
    """Run fn in a daemon thread and wait for it from a worker thread, giving up when the worker is cancelled.

    Importing and loading the model takes seconds and cannot be interrupted; in a worker thread it would hold
    the app's exit until done (the executor is joined), in a daemon thread it dies with the process."""
    worker = get_current_worker()
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the waiting worker
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


def stale_state(new: int, changed: int, removed: int) -> str:
    parts = [f"{n} {what}" for n, what in ((new, "new"), (changed, "changed"), (removed, "removed")) if n]
    return "stale: " + ", ".join(parts) if parts else "up to date"
