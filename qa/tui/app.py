"""The `qa` terminal UI: ask questions of the corpus in a chat, read the cited articles, keep the index current.

A thin front end over `qa.service.Library`, which owns the policy (sync, open, ask, re-index, status).
Threads: the index is made fresh, opened and the model warmed up in a thread worker while the window is already
painted; each question, and each timeline (ctrl+t), runs in a thread worker of one exclusive group (a newer one
supersedes an older one), its filter words (since:, until:, outlet:, as-of:) split off there; re-indexing runs
in a thread worker while questions use the index already open; a watchfiles thread notices changes in the corpus
folder. Threads never change the app's state: they post messages (qa.tui.messages) whose handlers do, and the
Library's warnings become notifications through `call_from_thread`. Slow library calls run in daemon threads the
workers wait on (`in_daemon`), so closing the app never waits for a sync or a model load.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from qa.config import MAX_QUESTION_CHARS
from qa.tui.format import Source, locate_copy, status_text
from qa.tui.messages import (
    AnswerFailed,
    AnswerReady,
    ArticleFetched,
    Cancelled,
    CorpusChanged,
    IndexDone,
    IndexFailed,
    IndexOpened,
    IndexProgress,
    IndexReloaded,
    LoadFailed,
    ModelReady,
    StaleChecked,
    TimelineReady,
    describe,
    in_daemon,
    offers_rebuild,
    stale_state,
)
from qa.tui.widgets import AnswerCard, ProgressPanel, QuestionInput, SourceLink, TimelineCard

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.filters import Filters
    from qa.service import Library, Status
    from qa.sync import Progress  # types only: the app never imports the writer
    from qa.timeline import Evidence

WATCH_DEBOUNCE_MS = 400
# A periodic check besides the watcher: it catches events a watcher misses (network folders) and an index
# changed by another process (`qa index`, `qa watch`), which is then reloaded.
RECHECK_SECONDS = 10.0
PAINT_WAIT_SECONDS = 2.0  # the load and the watch wait for the first frames at most this long
WARNING_TOASTS = 5  # per load or index run; a corpus of unreadable files would bury the screen in toasts


def counts_of(status: Status | None) -> tuple[int, int] | None:
    return (status.articles, status.chunks) if status is not None and status.built else None


class ChatScreen(Screen[None]):
    """The app's first screen. Focus starts in the question box: by default Textual focuses the first focusable
    widget, the chat, and moving focus from there to the box cost one more footer rebuild before the first keys."""

    AUTO_FOCUS = "#question"


class QAApp(App[None]):
    """Chat over the corpus: questions in, cited extracts out."""

    CSS_PATH = "app.tcss"
    TITLE = "qa"
    recheck_seconds = RECHECK_SECONDS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+r", "reindex", "Re-index", priority=True),
        Binding("ctrl+t", "timeline", "Timeline"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("question_mark", "help", show=False),  # the input types "?" and opens help only when empty
        *(Binding(str(n), f"open_source({n})", show=False) for n in range(1, 10)),  # same for digits
        Binding("pageup", "chat_scroll('page_up')", show=False),
        Binding("pagedown", "chat_scroll('page_down')", show=False),
    ]

    def __init__(self, library: Library, watch: bool = True) -> None:
        super().__init__()
        self.library = library
        library.warn = self._library_warning  # called from worker threads
        self.watch_corpus = watch
        self.latest: AnswerCard | None = None  # the card (answer or timeline) whose sources 1-9 open
        # State below changes only on the app's thread (handlers); workers use only `library` and the
        # thread-safe primitives at the end.
        self._loaded = False  # the load finished, ready or failed
        self._load_error: str | None = None  # until an index run succeeds
        # the question (or timeline) asked before the load finished
        self._pending: tuple[str, AnswerCard] | None = None
        self._counts: tuple[int, int] | None = None
        self._state = "loading the index…"
        self._indexing = False
        self._warnings = 0  # shown since the current load or index run began
        self._ui_thread: int | None = None
        # Shared with threads, never reassigned:
        self._read_lock = threading.Lock()  # one question or article read at a time on the reader
        self._watch_stop = threading.Event()
        self._painted = threading.Event()  # the first frames are on screen (see _after_refresh)

    # --- layout ----------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        return ChatScreen(id="_default")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="chat"):
            yield Static(self._welcome(), id="welcome")
        yield ProgressPanel(id="progress")
        yield QuestionInput(
            placeholder="Ask a question about the articles, then Enter", id="question", max_length=MAX_QUESTION_CHARS
        )
        yield Static(id="status")
        yield Footer()

    def _corpus_name(self) -> str:
        corpus = self.library.settings.corpus
        return corpus.name or str(corpus)

    def _welcome(self) -> Content:
        return Content.assemble(
            ("Ask a question about the articles in ", ""),
            (self._corpus_name(), "bold"),
            ".\n",
            "Answers are sentences quoted from the articles, with their source.\n",
            ("Enter", "bold"),
            " asks · ",
            ("Up/Down", "bold"),
            " earlier questions · ",
            ("1-9", "bold"),
            " open a source · ",
            ("F1", "bold"),
            " help\n",
            ("ctrl+t", "bold"),
            " timeline · filter words: ",
            ("since:2021 outlet:Xinhua as-of:2022-06", "italic"),
        )

    def on_mount(self) -> None:
        self._ui_thread = threading.get_ident()
        self.query_one(QuestionInput).focus()
        self._show_status()
        self._load()
        if self.watch_corpus:
            self._start_watcher()
        self.set_interval(self.recheck_seconds, self._recheck)  # from the start: also after a failed load's rebuild
        self.call_after_refresh(self._after_refresh)

    def _after_refresh(self, rounds: int = 1) -> None:
        """Set `_painted` once the footer's keys are on screen (Textual composes them a few frames after the first),
        or after many refreshes. The load and the watch wait for it: their imports (numpy, ONNX Runtime, watchfiles)
        hold the GIL, and alongside the first frames they delayed the first paint and then the footer by 0.1-0.3 s."""
        keys = [key for footer in self.query(Footer) for key in footer.children]
        if (keys and keys[0].region.width) or rounds >= 50:  # a region: laid out, so drawn in the same refresh
            self._painted.set()
        else:
            self.call_after_refresh(self._after_refresh, rounds + 1)

    def on_unmount(self) -> None:
        self._watch_stop.set()

    def _show_status(self) -> None:
        text = status_text(self._corpus_name(), self.library.settings.model, self._counts, self._state)
        # none while the app closes: a staleness check that ends then has nowhere to show its result
        for line in self.query("#status").results(Static):
            line.update(Content(text))

    def _widgets_gone(self) -> bool:
        """The app's widgets are gone: a worker's message that arrives now has nothing left to update."""
        return not self.query(ProgressPanel)

    def _set_state(self, state: str, counts: tuple[int, int] | None = None) -> None:
        self._state = state
        if counts is not None:
            self._counts = counts
        self._show_status()

    def _post(self, message: Message) -> None:
        """Post from a worker thread; a closing app may refuse, which is fine."""
        try:
            self.post_message(message)
        except RuntimeError:  # the event loop is already closed
            pass

    def _library_warning(self, message: str) -> None:
        """The Library's `warn`: called from worker threads (and the daemon threads they wait on)."""
        if threading.get_ident() == self._ui_thread:
            self._show_warning(message)
            return
        try:
            self.call_from_thread(self._show_warning, message)
        except RuntimeError:  # the app is not running any more
            pass

    def _show_warning(self, message: str) -> None:
        if not self.is_running:
            return
        self._warnings += 1
        if self._warnings <= WARNING_TOASTS:
            self.notify(message, severity="warning", timeout=8)
        elif self._warnings == WARNING_TOASTS + 1:
            self.notify("More warnings not shown: `qa index` lists them all.", severity="warning", timeout=8)

    def _progress(self, worker: Worker[Any], label: str) -> Progress:
        """An index run's progress callback: posts to the panel, and stops the run once the worker is cancelled."""

        def progress(phase: str, done: int, total: int) -> None:
            if worker.is_cancelled:
                raise Cancelled  # stop the sync between batches
            self._post(IndexProgress(label, phase, done, total))

        return progress

    # --- loading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        self._painted.wait(PAINT_WAIT_SECONDS)
        worker = get_current_worker()
        if worker.is_cancelled:
            return
        library = self.library
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars over the screen
        try:
            label = "updating the index" if library.built else "building the index"
            progress = self._progress(worker, label)
            report = in_daemon(lambda: library.refresh(progress))  # syncs when the index is missing or stale
            if report is not None:
                self._post(IndexDone(report.summary(), None))
            in_daemon(library.retriever)
            self._post(IndexOpened(library.status(sizes=False)))
            # loads the model (seconds: torch or ONNX Runtime); the first encode pays one-off costs
            in_daemon(lambda: library.embedder.encode_queries(["warm up"]))
            self._post(ModelReady())
        except Cancelled:
            return
        except Exception as e:  # every failure becomes a dialog, never a traceback
            self._post(LoadFailed(describe(e), offers_rebuild(e)))

    def on_index_opened(self, message: IndexOpened) -> None:
        self._set_state("loading the model…", counts_of(message.status))

    def on_model_ready(self, _: ModelReady) -> None:
        self._loaded = True
        self._set_state("checking the corpus…")
        self._check_staleness()
        self._ask_pending()

    def on_load_failed(self, message: LoadFailed) -> None:
        if self._widgets_gone():
            return
        self._loaded = True
        self._load_error = message.error
        self.query_one(ProgressPanel).stop()
        self._indexing = False
        self._set_state("index not usable")
        self._ask_pending()  # its card gets the error
        self._error_dialog("The index could not be loaded", message.error, message.offer_rebuild)

    def _error_dialog(self, title: str, error: str, offer_rebuild: bool) -> None:
        from qa.tui.screens import ErrorDialog  # the screens load on first use, not before the first frame

        def chosen(rebuild: bool | None) -> None:
            if rebuild:
                self._start_reindex(rebuild=True)

        self.push_screen(ErrorDialog(title, error, offer_rebuild), chosen)

    # --- indexing --------------------------------------------------------------------------------
    def action_reindex(self) -> None:
        self._start_reindex(rebuild=False)

    def _start_reindex(self, rebuild: bool) -> None:
        if self._indexing:
            self.notify("The index is already being updated.")
            return
        if not self._loaded:
            self.notify("Still loading the model; re-index once it is ready.")
            return
        self._indexing = True
        self._warnings = 0
        label = "rebuilding the index" if rebuild else "re-indexing"
        self._set_state(f"{label}…")
        self.query_one(ProgressPanel).start(f"{label}: reading the corpus")
        self._reindex(rebuild, label)

    @work(thread=True, exclusive=True, group="index", exit_on_error=False)
    def _reindex(self, rebuild: bool, label: str) -> None:
        library = self.library
        progress = self._progress(get_current_worker(), label)

        def run() -> tuple[str, Status]:
            report = library.index(rebuild=rebuild, progress=progress)  # questions meanwhile use the open reader
            library.retriever()  # open the new index now, not on the next question
            return report.summary(), library.status(sizes=False)

        try:
            summary, status = in_daemon(run)
        except Cancelled:
            return
        except Exception as e:  # a dialog or a notification, never a traceback
            self._post(IndexFailed(describe(e), offers_rebuild(e)))
            return
        self._post(IndexDone(summary, status))

    def on_index_progress(self, message: IndexProgress) -> None:
        if self._widgets_gone():
            return
        panel = self.query_one(ProgressPanel)
        label = f"{message.label}: {message.phase}"
        if not self._indexing:  # the run at start, by the load worker
            self._indexing = True
            self._set_state(f"{message.label}…")
            panel.start(label)
        if message.total:
            panel.advance(label, message.done, message.total)

    def on_index_done(self, message: IndexDone) -> None:
        if self._widgets_gone():
            return
        self._indexing = False
        self.query_one(ProgressPanel).stop()
        self.notify(f"Index updated: {message.summary}", timeout=6)
        if message.status is not None:  # None: the run at start, which goes on to load
            self._load_error = None
            self._set_state(stale_state(message.status), counts_of(message.status))

    def on_index_failed(self, message: IndexFailed) -> None:
        if self._widgets_gone():
            return
        self._indexing = False
        self.query_one(ProgressPanel).stop()
        if self._load_error is not None:
            self._set_state("index not usable")
        else:
            self._set_state("checking the corpus…")
            self._check_staleness()
        if message.offer_rebuild:
            self._error_dialog("Re-indexing failed", message.error, True)
        else:
            self.notify(message.error, title="Re-indexing failed", severity="error", timeout=10)

    # --- staleness and watching ------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="stale", exit_on_error=False)
    def _check_staleness(self) -> None:
        library = self.library
        try:
            status, changed = in_daemon(lambda: (library.status(sizes=False), library.changed_since_open()))
        except Cancelled:
            return
        except Exception as e:  # shown in the status line
            self._post(StaleChecked(describe(e).split(":")[0], None))
            return
        self._post(StaleChecked(stale_state(status), status, changed))

    def on_stale_checked(self, message: StaleChecked) -> None:
        if self._indexing:  # checked before this run began: its end brings a new status
            return
        self._set_state(message.state, counts_of(message.status))
        if message.changed and self._load_error is None:
            self._reload()  # another process changed the index

    @work(thread=True, exclusive=True, group="reload", exit_on_error=False)
    def _reload(self) -> None:
        library = self.library

        def run() -> Status:
            library.reload()
            library.retriever()  # open it now, not on the next question
            return library.status(sizes=False)

        try:
            self._post(IndexReloaded(in_daemon(run)))
        except Cancelled:
            return
        except Exception as e:  # the next question tries again, and says why it cannot
            self._post(IndexReloaded(None, describe(e)))

    def on_index_reloaded(self, message: IndexReloaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="The index changed but could not be opened", severity="error")
            return
        # how current it is, from the reloaded index: the check that noticed the change may have read the corpus
        # while the other process was still writing ("stale: 1 new"); a run of ours under way keeps its state
        status = message.status
        state = stale_state(status) if status is not None and not self._indexing else self._state
        self._set_state(state, counts_of(status))
        self.notify("The index was updated by another process; reloaded.", timeout=5)

    def _start_watcher(self) -> None:
        corpus, stop = self.library.settings.corpus, self._watch_stop

        def watch_folder() -> None:
            try:
                self._painted.wait(PAINT_WAIT_SECONDS)
                from watchfiles import watch

                for _changes in watch(corpus, stop_event=stop, debounce=WATCH_DEBOUNCE_MS, rust_timeout=1000):
                    self._post(CorpusChanged())
            except Exception:  # a folder that cannot be watched is left to the periodic check
                return

        threading.Thread(target=watch_folder, name="qa-watch-corpus", daemon=True).start()

    def on_corpus_changed(self, _: CorpusChanged) -> None:
        self._recheck()

    def _recheck(self) -> None:
        if self._loaded and not self._indexing:
            self._check_staleness()

    # --- asking ---------------------------------------------------------------------------------
    @on(QuestionInput.Submitted)
    def ask(self, event: QuestionInput.Submitted) -> None:
        question = " ".join(event.value.split())
        if question:
            self._request(question, AnswerCard)

    def action_timeline(self) -> None:
        """The evidence by date for the question in the box, or else the last one asked (its filter words too)."""
        box = self.query_one(QuestionInput)
        question = " ".join(box.value.split()) or (box.history[-1] if box.history else "")
        if not question:
            self.bell()
            self.notify("Type a question, then ctrl+t for its evidence by date.", timeout=4)
            return
        self._request(question, TimelineCard)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "timeline":  # on the chat only: not over an article or a dialog
            return isinstance(self.screen, ChatScreen)
        return True

    def _request(self, question: str, kind: type[AnswerCard]) -> None:
        """A card for the question in the chat, searched now or once the load finishes; pending cards are
        superseded (their workers share one exclusive group, so the newer one cancels the older)."""
        box = self.query_one(QuestionInput)
        box.remember(question)
        box.value = ""
        chat = self.query_one("#chat", VerticalScroll)
        for card in self.query(AnswerCard):
            if card.pending:
                card.note("Skipped: a newer question was asked.", "superseded")
        for welcome in self.query("#welcome"):
            welcome.remove()
        waiting = "Searching…" if self._loaded else "Waiting for the model and the index to load…"
        card = kind(question, waiting)
        chat.mount(card.bubble, card)
        chat.scroll_end(animate=False)
        if self._loaded:
            self._answer(question, card)
        else:
            self._pending = (question, card)  # asked once the load finishes

    def _ask_pending(self) -> None:
        if self._pending is not None:
            question, card = self._pending
            self._pending = None
            if card.pending:
                self._answer(question, card)

    def _answer(self, question: str, card: AnswerCard) -> None:
        if self._load_error is not None:
            card.note(self._load_error, "error")
        elif isinstance(card, TimelineCard):
            self._timeline(question, card)
        else:
            self._search(question, card)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, question: str, card: AnswerCard) -> None:
        worker = get_current_worker()

        def run() -> Answer:
            asked, filters = _filter_words(question)  # a bad date: a one-line error in the card
            with self._read_lock:
                if worker.is_cancelled:  # superseded while an earlier question was searched
                    raise Cancelled
                # the load, watch and ctrl+r keep the index fresh; as_of None is today
                return self.library.ask(asked, sync=False, filters=filters, as_of=filters.as_of)

        try:
            result = in_daemon(run)
        except Cancelled:
            return
        except Exception as e:  # in the card, never a traceback
            self._post(AnswerFailed(card, describe(e)))
            return
        self._post(AnswerReady(card, result))

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _timeline(self, question: str, card: TimelineCard) -> None:
        worker = get_current_worker()

        def run() -> tuple[list[Evidence], Filters]:
            from datetime import date

            asked, filters = _filter_words(question)
            with self._read_lock:
                if worker.is_cancelled:
                    raise Cancelled
                # as of today unless typed, as `qa ask --timeline` does: later articles are left out
                as_of = filters.as_of or date.today()
                return self.library.timeline(asked, filters=filters, as_of=as_of), filters

        try:
            evidence, filters = in_daemon(run)
        except Cancelled:
            return
        except Exception as e:  # in the card, never a traceback
            self._post(AnswerFailed(card, describe(e)))
            return
        self._post(TimelineReady(card, evidence, filters))

    def on_answer_ready(self, message: AnswerReady) -> None:
        card = message.card
        if not card.pending:  # superseded by a newer question
            return
        card.show(message.answer)
        self._shown(card)

    def on_timeline_ready(self, message: TimelineReady) -> None:
        card = message.card
        if not card.pending:
            return
        card.show_timeline(message.evidence, message.filters)
        self._shown(card)

    def _shown(self, card: AnswerCard) -> None:
        self.latest = card
        chat = self.query_one("#chat", VerticalScroll)
        self.call_after_refresh(chat.scroll_to_widget, card.bubble, top=True, animate=False)

    def on_answer_failed(self, message: AnswerFailed) -> None:
        if message.card.pending:
            message.card.note(message.error, "error")

    # --- sources, help, scrolling ----------------------------------------------------------------
    @on(QuestionInput.Hotkey)
    def hotkey(self, event: QuestionInput.Hotkey) -> None:
        if event.key == "?":
            self.action_help()
            return
        self.action_open_source(int(event.key))

    def action_open_source(self, number: int) -> None:
        from qa.tui.screens import ErrorDialog, HelpScreen

        if isinstance(self.screen, (HelpScreen, ErrorDialog)):
            return
        sources = self.latest.sources if self.latest else []
        if not 1 <= number <= len(sources):
            self.bell()
            self.notify("No answer with that many sources yet." if sources else "Ask a question first.", timeout=3)
            return
        self._fetch_article(sources[number - 1])

    @on(SourceLink.Open)
    def open_link(self, event: SourceLink.Open) -> None:
        self._fetch_article(event.source)

    @work(thread=True, exclusive=True, group="article", exit_on_error=False)
    def _fetch_article(self, source: Source) -> None:
        library = self.library

        def run() -> str | None:
            with self._read_lock:
                row = library.retriever().article(source.article_id)
            return row.text if row else None

        try:
            self._post(ArticleFetched(source, in_daemon(run)))
        except Cancelled:
            return
        except Exception as e:  # a notification, never a traceback
            self._post(ArticleFetched(source, None, describe(e)))

    def on_article_fetched(self, message: ArticleFetched) -> None:
        from qa.tui.screens import SourceScreen

        if message.error is not None:
            self.notify(message.error, title="The article could not be read", severity="error")
            return
        if message.text is None:
            self.notify("That article is no longer in the index.", severity="warning")
            return
        sources = self._card_sources(message.source)
        screen = SourceScreen(locate_copy(message.source, message.text), message.text, sources)
        if isinstance(self.screen, SourceScreen):  # another source from the article view: replace it
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def _card_sources(self, source: Source) -> list[Source]:
        """The numbered sources of the card that lists `source` (the latest such card), for the source view."""
        chat = self.screen_stack[0]  # the chat screen, under any article view
        cards = [card for card in chat.query(AnswerCard) if source in card.sources]
        return cards[-1].sources if cards else [source]

    def action_help(self) -> None:
        from qa.tui.screens import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_chat_scroll(self, how: str) -> None:
        getattr(self.query_one("#chat", VerticalScroll), f"action_{how}")()


def _filter_words(question: str) -> tuple[str, Filters]:
    """The question without its filter words (since:, until:, outlet:, as-of:) and the filters they give.
    Called in worker threads: qa.filters loads numpy, which must wait until after the first frame."""
    from qa.filters import parse_filter_words

    return parse_filter_words(question)


def make_app(library: Library, watch: bool = True) -> QAApp:
    """The app over `library` (the CLI's, or a test's with an already loaded embedder); the app takes over
    `library.warn` to show warnings as notifications. `watch`: follow the corpus folder with a watcher thread
    (the periodic check runs either way)."""
    return QAApp(library, watch=watch)
