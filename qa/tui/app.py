"""The `qa` terminal UI: ask questions of the corpus in a chat, read the cited articles, keep the index current.

Threads: the model and index load in a thread worker while the window is already painted; each question runs
in an exclusive thread worker (a newer one supersedes an older one); re-indexing runs in a thread worker and
swaps the new Retriever in only when it is complete; a watchfiles thread notices changes in the corpus folder.
Threads talk to the UI only through posted messages. The core (numpy, FAISS, the model) is imported inside the
workers, so the first paint does not wait for it.
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
from textual.worker import get_current_worker

from qa.config import MAX_QUESTION_CHARS, Settings
from qa.errors import IndexCorrupt, IndexMismatch
from qa.tui.format import Source, status_text
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
    describe,
    in_daemon,
    stale_state,
)
from qa.tui.widgets import AnswerCard, ProgressPanel, QuestionInput, SourceLink

if TYPE_CHECKING:
    from qa.retrieve import Retriever

WATCH_DEBOUNCE_MS = 400
# A periodic check besides the watcher: it catches events a watcher misses (network folders) and an index
# changed by another process (`qa index`, `qa watch`), which is then reloaded.
RECHECK_SECONDS = 10.0
PAINT_WAIT_SECONDS = 2.0  # the load and the watch wait for the first frames at most this long


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
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("question_mark", "help", show=False),  # the input types "?" and opens help only when empty
        *(Binding(str(n), f"open_source({n})", show=False) for n in range(1, 10)),  # same for digits
        Binding("pageup", "chat_scroll('page_up')", show=False),
        Binding("pagedown", "chat_scroll('page_down')", show=False),
    ]

    def __init__(self, settings: Settings, embedder: Any = None, watch: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self.embedder = embedder
        self.watch_corpus = watch
        self.retriever: Retriever | None = None
        self.latest: AnswerCard | None = None  # the card whose sources 1-9 open
        self._tag: str | None = None  # the index state the Retriever was opened on
        self._ready_event = threading.Event()  # set once questions can be answered (or loading failed)
        self._lock = threading.Lock()  # one search (or swap) at a time on a Retriever
        self._load_error: str | None = None
        self._counts: tuple[int, int] | None = None
        self._state = "loading the index…"
        self._indexing = False
        self._index_label = "re-indexing"
        self._watch_stop = threading.Event()
        self._painted = threading.Event()  # the first frames are on screen (see _after_refresh)

    # --- layout ----------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
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

    def _welcome(self) -> Content:
        return Content.assemble(
            ("Ask a question about the articles in ", ""),
            (self.settings.corpus.name or str(self.settings.corpus), "bold"),
            ".\n",
            "Answers are sentences quoted from the articles, with their source.\n",
            ("Enter", "bold"),
            " asks · ",
            ("Up/Down", "bold"),
            " earlier questions · ",
            ("1-9", "bold"),
            " open a source · ",
            ("F1", "bold"),
            " help",
        )

    def on_mount(self) -> None:
        self.query_one(QuestionInput).focus()
        self._show_status()
        self._load()
        if self.watch_corpus:
            self._start_watcher()
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
        model = self.embedder.name if self.embedder is not None else self.settings.model
        corpus = self.settings.corpus.name or str(self.settings.corpus)
        self.query_one("#status", Static).update(Content(status_text(corpus, model, self._counts, self._state)))

    def _set_state(self, state: str, counts: tuple[int, int] | None = None) -> None:
        self._state = state
        if counts is not None:
            self._counts = counts
        self._show_status()

    def _post(self, message: Message) -> None:
        """Post from a worker thread; a closing app may refuse, which is fine."""
        try:
            self.post_message(message)
        except RuntimeError:
            pass

    # --- loading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        self._painted.wait(PAINT_WAIT_SECONDS)
        if get_current_worker().is_cancelled:
            return
        try:
            if self.embedder is None:
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars over the screen
                from qa.embed import Embedder

                self.embedder = Embedder(self.settings.model)
            embedder = self.embedder
            from qa.embed import ONNX_FILE
            from qa.store import CATALOG

            no_catalog = not (self.settings.index / CATALOG).is_file()
            # an index from before the ONNX export: one sync writes the encoder, later starts skip torch
            if no_catalog or not (self.settings.index / ONNX_FILE).is_file():
                self._index_label = "building the index" if no_catalog else "preparing the question encoder"
                self._post(IndexProgress("loading the model", 0, 0))
                in_daemon(lambda: embedder.model)
                self._post(IndexProgress("reading the corpus", 0, 0))
                report = self._run_indexer(rebuild=False)
                self._post(IndexDone(report.summary(), report.warnings, None))
            retriever = self._open_retriever()
            self._post(IndexOpened(retriever.catalog.counts()))
            # loads the model (seconds: torch, sentence-transformers); the first encode pays one-off costs
            in_daemon(lambda: embedder.encode_queries(["warm up"]))
            with self._lock:
                self.retriever = retriever
            self._ready_event.set()
            self._post(ModelReady())
        except Cancelled:
            return
        except Exception as e:  # noqa: BLE001 - every failure becomes a dialog, never a traceback
            self._load_error = describe(e)
            self._ready_event.set()  # questions waiting for the load now get the error
            self._post(LoadFailed(self._load_error, isinstance(e, (IndexCorrupt, IndexMismatch))))

    def on_index_opened(self, message: IndexOpened) -> None:
        self._set_state("loading the model…", message.counts)

    def on_model_ready(self, _: ModelReady) -> None:
        self._set_state("checking the corpus…")
        self._check_staleness()
        self.set_interval(self.recheck_seconds, lambda: self.on_corpus_changed(CorpusChanged()))

    def on_load_failed(self, message: LoadFailed) -> None:
        self.query_one(ProgressPanel).stop()
        self._indexing = False
        self._set_state("index not usable")
        self._error_dialog("The index could not be loaded", message.error, message.offer_rebuild)

    def _error_dialog(self, title: str, error: str, offer_rebuild: bool) -> None:
        from qa.tui.screens import ErrorDialog  # the screens load on first use, not before the first frame

        def chosen(rebuild: bool | None) -> None:
            if rebuild:
                self._start_reindex(rebuild=True)

        self.push_screen(ErrorDialog(title, error, offer_rebuild), chosen)

    # --- indexing --------------------------------------------------------------------------------
    def _run_indexer(self, rebuild: bool):  # type: ignore[no-untyped-def]
        """From a worker thread: the sync runs in a daemon thread, so closing the app never waits for it
        (a killed sync leaves the old index usable); progress goes to the panel."""
        from qa.sync import Indexer

        worker = get_current_worker()

        def progress(phase: str, done: int, total: int) -> None:
            if worker.is_cancelled:
                raise Cancelled  # stop the sync between batches
            self._post(IndexProgress(phase, done, total))

        indexer = Indexer(self.settings.corpus, self.settings.index, self.embedder, progress)
        return in_daemon(lambda: indexer.run(rebuild=rebuild))

    def action_reindex(self) -> None:
        self._start_reindex(rebuild=False)

    def _start_reindex(self, rebuild: bool) -> None:
        if self._indexing:
            self.notify("The index is already being updated.")
            return
        if not self._ready_event.is_set():
            self.notify("Still loading the model; re-index once it is ready.")
            return
        self._indexing = True
        self._index_label = "rebuilding the index" if rebuild else "re-indexing"
        self._set_state(f"{self._index_label}…")
        self.query_one(ProgressPanel).start(f"{self._index_label}: reading the corpus")
        self._reindex(rebuild)

    def _open_retriever(self) -> Retriever:
        """From a worker thread: a Retriever on the index as it is now, remembering which state that is."""
        from qa.retrieve import Retriever

        tag = self._index_tag()  # read first: a change while opening shows as a difference later
        retriever = Retriever(self.settings.index, self.embedder)
        self._tag = tag
        return retriever

    def _index_tag(self) -> str:
        from qa.store import Catalog
        from qa.sync import derived_tag

        catalog = Catalog(self.settings.index)
        try:
            return derived_tag(catalog)
        finally:
            catalog.close()

    def _swap(self, retriever: Retriever) -> tuple[int, int]:
        """Questions in flight finish on the old Retriever; the next ones use the new."""
        counts = retriever.catalog.counts()
        with self._lock:
            old, self.retriever = self.retriever, retriever
            self._load_error = None
        if old is not None:
            old.close()
        return counts

    @work(thread=True, exclusive=True, group="index", exit_on_error=False)
    def _reindex(self, rebuild: bool) -> None:
        try:
            report = self._run_indexer(rebuild)
            counts = self._swap(self._open_retriever())
            self._post(IndexDone(report.summary(), report.warnings, counts))
        except Cancelled:
            return
        except Exception as e:  # noqa: BLE001
            self._post(IndexFailed(describe(e), isinstance(e, (IndexCorrupt, IndexMismatch))))

    def on_index_progress(self, message: IndexProgress) -> None:
        panel = self.query_one(ProgressPanel)
        label = f"{self._index_label}: {message.phase}"
        if not self._indexing:  # the first build, started by the load worker
            self._indexing = True
            self._set_state(f"{self._index_label}…")
            panel.start(label)
        if message.total:
            panel.advance(label, message.done, message.total)

    def on_index_done(self, message: IndexDone) -> None:
        self._indexing = False
        self.query_one(ProgressPanel).stop()
        for warning in message.warnings[:5]:
            self.notify(warning, severity="warning", timeout=8)
        self.notify(f"Index updated: {message.summary}", timeout=6)
        if message.counts is not None:  # None: the first build at start, which goes on to load
            self._set_state("checking the corpus…", message.counts)
            self._check_staleness()

    def on_index_failed(self, message: IndexFailed) -> None:
        self._indexing = False
        self.query_one(ProgressPanel).stop()
        if self.retriever is None:
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
        from qa.store import Catalog
        from qa.sync import derived_tag, staleness

        try:
            catalog = Catalog(self.settings.index)
            try:
                tag = derived_tag(catalog)
                stale = staleness(catalog, self.settings.corpus)
                counts = catalog.counts()
            finally:
                catalog.close()
            state = stale_state(len(stale.new), len(stale.changed), len(stale.removed))
            self._post(StaleChecked(state, counts, tag))
        except Exception as e:  # noqa: BLE001
            self._post(StaleChecked(describe(e).split(":")[0], None))

    def on_stale_checked(self, message: StaleChecked) -> None:
        if self._indexing:
            return
        self._set_state(message.state, message.counts)
        if message.tag and self._tag and message.tag != self._tag and self.retriever is not None:
            self._reload()  # another process changed the index

    @work(thread=True, exclusive=True, group="reload", exit_on_error=False)
    def _reload(self) -> None:
        try:
            self._post(IndexReloaded(self._swap(self._open_retriever())))
        except Exception as e:  # noqa: BLE001 - keep answering from the index already open
            self._post(IndexFailed(describe(e), False))

    def on_index_reloaded(self, message: IndexReloaded) -> None:
        self._set_state(self._state, message.counts)
        self.notify("The index was updated by another process; reloaded.", timeout=5)

    def _start_watcher(self) -> None:
        corpus, stop = self.settings.corpus, self._watch_stop

        def watch_folder() -> None:
            try:
                self._painted.wait(PAINT_WAIT_SECONDS)
                from watchfiles import watch

                for _changes in watch(corpus, stop_event=stop, debounce=WATCH_DEBOUNCE_MS, rust_timeout=1000):
                    self._post(CorpusChanged())
            except Exception:  # noqa: BLE001 - a folder that cannot be watched is left to the periodic check
                return

        threading.Thread(target=watch_folder, name="qa-watch-corpus", daemon=True).start()

    def on_corpus_changed(self, _: CorpusChanged) -> None:
        if self._ready_event.is_set() and not self._indexing:
            self._check_staleness()

    # --- asking ----------------------------------------------------------------------------------
    @on(QuestionInput.Submitted)
    def ask(self, event: QuestionInput.Submitted) -> None:
        question = " ".join(event.value.split())
        if not question:
            return
        box = self.query_one(QuestionInput)
        box.remember(question)
        box.value = ""
        chat = self.query_one("#chat", VerticalScroll)
        for card in self.query(AnswerCard):
            if card.pending:
                card.note("Skipped: a newer question was asked.", "superseded")
        for welcome in self.query("#welcome"):
            welcome.remove()
        waiting = "Searching…" if self._ready_event.is_set() else "Waiting for the model and the index to load…"
        card = AnswerCard(question, waiting)
        chat.mount(card.bubble, card)
        chat.scroll_end(animate=False)
        self._search(question, card)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, question: str, card: AnswerCard) -> None:
        from qa.answer import answer

        worker = get_current_worker()
        while not self._ready_event.wait(0.1):  # asked before the model and index were ready
            if worker.is_cancelled:
                return
        with self._lock:
            if worker.is_cancelled:  # superseded while waiting
                return
            retriever = self.retriever
            if retriever is None:
                self._post(AnswerFailed(card, self._load_error or "the index is not loaded"))
                return
            try:
                result = answer(retriever, question)
            except Exception as e:  # noqa: BLE001
                self._post(AnswerFailed(card, describe(e)))
                return
        if not worker.is_cancelled:
            self._post(AnswerReady(card, result))

    def on_answer_ready(self, message: AnswerReady) -> None:
        card = message.card
        card.show(message.answer)
        self.latest = card
        chat = self.query_one("#chat", VerticalScroll)
        self.call_after_refresh(chat.scroll_to_widget, card.bubble, top=True, animate=False)

    def on_answer_failed(self, message: AnswerFailed) -> None:
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
        with self._lock:
            row = self.retriever.article(source.article_id) if self.retriever else None
        self._post(ArticleFetched(source, row.text if row else None))

    def on_article_fetched(self, message: ArticleFetched) -> None:
        from qa.tui.screens import SourceScreen

        if message.text is None:
            self.notify("That article is no longer in the index.", severity="warning")
            return
        screen = SourceScreen(message.source, message.text)
        if isinstance(self.screen, SourceScreen):  # another source from the article view: replace it
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def action_help(self) -> None:
        from qa.tui.screens import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_chat_scroll(self, how: str) -> None:
        getattr(self.query_one("#chat", VerticalScroll), f"action_{how}")()


def make_app(settings: Settings, embedder: Any = None, watch: bool = True) -> QAApp:
    """The app over `settings`; pass an already loaded embedder to skip loading the model (tests)."""
    return QAApp(settings, embedder=embedder, watch=watch)
