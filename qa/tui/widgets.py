"""Widgets of the chat screen: the question input, question bubbles, answer cards and source links."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, Static

from qa.tui.format import Source, meta_line, passage_content, snippet, sources_of

if TYPE_CHECKING:
    from qa.answer import Answer

PASSAGE_CONTEXT = 240  # characters of the passage shown either side of the extract
HOTKEY_CHARS = "123456789?"  # act as keys only while the input is empty; otherwise they are typed


class QuestionInput(Input):
    """The question box: Enter asks, Up/Down walk earlier questions; on an empty box 1-9 and ? are keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Earlier question", show=False),
        Binding("down", "history(1)", "Later question", show=False),
    ]

    class Hotkey(Message):
        """A digit or ? pressed on the empty input."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.history: list[str] = []
        self._position = 0  # len(history) means "a new question"
        self._draft = ""

    def remember(self, question: str) -> None:
        if not self.history or self.history[-1] != question:
            self.history.append(question)
        self._position = len(self.history)
        self._draft = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._position == len(self.history):
            self._draft = self.value
        position = min(max(self._position + step, 0), len(self.history))
        if position == self._position:
            return
        self._position = position
        self.value = self.history[position] if position < len(self.history) else self._draft
        self.cursor_position = len(self.value)

    async def _on_key(self, event: events.Key) -> None:
        if event.character and event.character in HOTKEY_CHARS and not self.value:
            event.stop()
            event.prevent_default()
            self.post_message(self.Hotkey(event.character))
            return
        await super()._on_key(event)


class QuestionBubble(Static):
    """A question as asked."""

    def __init__(self, question: str) -> None:
        super().__init__(Content.assemble(("› ", "bold"), question), classes="question")


class SourceLink(Static, can_focus=True):
    """A source line, clicked or focused + Enter to open: "[n] title" over "outlet · date · file"."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "Open the article", show=False)]

    class Open(Message):
        def __init__(self, source: Source) -> None:
            super().__init__()
            self.source = source

    def __init__(self, number: int, source: Source, prefix: str = "") -> None:
        label = Content.assemble((f"[{number}] ", "bold"), prefix, (source.title or source.path, "underline"))
        meta = meta_line(source)
        if meta:
            label = Content.assemble(label, "\n    ", (meta, "italic"))
        super().__init__(label, classes=f"source-link {source.role}")
        self.source = source
        self.tooltip = "open the article"

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        self.post_message(self.Open(self.source))


class AnswerCard(Vertical):
    """The answer to one question: pending, answered, not answered, failed or superseded."""

    def __init__(self, question: str, waiting: str) -> None:
        super().__init__(classes="card pending")
        self.question = question
        self.bubble = QuestionBubble(question)  # mounted above the card by the app
        self.answer: Answer | None = None
        self.sources: list[Source] = []
        self.border_title = "searching"
        self._waiting = waiting

    def compose(self) -> ComposeResult:
        yield Label(self._waiting, classes="card-note")

    @property
    def pending(self) -> bool:
        return self.has_class("pending")

    def note(self, text: str, state: str | None = None) -> None:
        """Replace the card's content by one line (waiting, error, superseded)."""
        self.remove_children()
        self.mount(Label(text, classes="card-note"))
        if state:
            self.set_classes(f"card {state}")
            self.border_title = state

    def show(self, answer: Answer) -> None:
        self.answer = answer
        self.sources = sources_of(answer)
        self.remove_children()
        self.set_classes("card answered" if answer.answered else "card unanswered")
        if answer.answered:
            self.border_title = "answer"
            self._show_answered()
        else:
            self.border_title = "no answer"
            self._show_unanswered()

    def _show_answered(self) -> None:
        main, rest = self.sources[0], self.sources[1:]
        also = [s for s in rest if s.role == "also"]
        related = [s for s in rest if s.role == "related"]
        self.mount(Static(passage_content(main, context=PASSAGE_CONTEXT), classes="passage"))
        self.mount(SourceLink(1, main))
        for n, source in enumerate(also, start=2):
            self.mount(SourceLink(n, source, prefix="also in: "))
        if related:
            from textual.widgets import Collapsible  # imported on the first answer, not before the first frame

            first = 2 + len(also)
            body = self._related(related, first)
            word = "passage" if len(related) == 1 else "passages"
            self.mount(Collapsible(*body, title=f"{len(related)} more {word}", collapsed=True))

    def _show_unanswered(self) -> None:
        self.mount(Label("The corpus does not answer this question.", classes="card-note"))
        if self.sources:
            from textual.widgets import Collapsible

            body = self._related(self.sources, 1)
            self.mount(Collapsible(*body, title=f"Closest passages ({len(self.sources)})", collapsed=False))

    @staticmethod
    def _related(sources: list[Source], first: int) -> list[Static]:
        body: list[Static] = []
        for n, source in enumerate(sources, start=first):
            body.append(SourceLink(n, source))
            body.append(Static(snippet(source.text), classes="snippet"))
        return body


class ProgressPanel(Horizontal):
    """Shown while the index is being built: what is happening and how far along. The label and bar are mounted
    on first use: composed at start, the hidden bar cost the first frame about 20 ms of the main thread."""

    def start(self, label: str) -> None:
        from textual.widgets import ProgressBar

        if not self.children:
            self.mount(Label(label, id="progress-label"), ProgressBar(total=None, show_eta=False, id="progress-bar"))
        self.query_one("#progress-label", Label).update(label)
        self.query_one("#progress-bar", ProgressBar).update(total=None, progress=0)
        self.add_class("-active")

    def advance(self, phase: str, done: int, total: int) -> None:
        from textual.widgets import ProgressBar

        self.query_one("#progress-label", Label).update(phase)
        self.query_one("#progress-bar", ProgressBar).update(total=max(total, 1), progress=done)

    def stop(self) -> None:
        self.remove_class("-active")
