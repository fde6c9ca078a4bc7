"""Widgets of the chat screen: the question input, question bubbles, answer cards and source links."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, Static

from qa.tui.format import (
    VALUE_STYLE,
    Source,
    date_label,
    extract_content,
    meta_line,
    passage_content,
    scope_line,
    snippet,
    sources_of,
    timeline_sources,
)

if TYPE_CHECKING:
    from textual.widget import Widget

    from qa.answer import Answer, Conflict
    from qa.filters import Filters
    from qa.timeline import Evidence

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
    """A question as asked (a timeline's with its label)."""

    def __init__(self, question: str, label: str = "") -> None:
        super().__init__(Content.assemble(("› ", "bold"), label, question), classes="question")


class SourceLink(Static, can_focus=True):
    """A source line, clicked or focused + Enter to open: "[n] title" over "outlet · date · file", or the
    `label` given (a timeline row)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "Open the article", show=False)]

    class Open(Message):
        def __init__(self, source: Source) -> None:
            super().__init__()
            self.source = source

    def __init__(self, number: int, source: Source, prefix: str = "", label: Content | None = None) -> None:
        if label is None:
            title = Content.assemble((f"[{number}] ", "bold"), prefix, (source.title or source.path, "underline"))
            label = Content.assemble(title, "\n    ", (meta_line(source), "italic"))
        super().__init__(label, classes=f"source-link {source.role}")
        self.number = number
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
        self.sources: list[Source] = []  # numbered 1.. in the order shown
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
        scope = scope_line(answer.confidence, answer.as_of, answer.filters)
        if scope:
            self.mount(Label(scope, classes="card-scope"))
        if answer.answered:
            self.border_title = "answer"
            self._show_answered(answer)
        else:
            self.border_title = "no answer"
            self._show_unanswered()

    def numbered(self, role: str) -> list[tuple[int, Source]]:
        """The sources of one role with their numbers (the keys 1-9 open the first nine)."""
        return [(n, s) for n, s in enumerate(self.sources, start=1) if s.role == role]

    def _show_answered(self, answer: Answer) -> None:
        from textual.widgets import Collapsible  # imported on the first answer, not before the first frame

        self.mount(Static(passage_content(self.sources[0], context=PASSAGE_CONTEXT), classes="passage"))
        self.mount(SourceLink(1, self.sources[0]))
        for n, source in self.numbered("also"):
            self.mount(SourceLink(n, source, prefix="also in: "))
        conflicts = self.numbered("conflict")
        if conflicts:
            self.mount(ConflictsBlock(answer.conflicts, conflicts))
        copies = self.numbered("copy")
        if copies:
            body = [SourceLink(n, source) for n, source in copies]
            self.mount(Collapsible(*body, title=reported_by(s for _, s in copies), collapsed=True, classes="copies"))
        related = self.numbered("related")
        if related:
            word = "passage" if len(related) == 1 else "passages"
            self.mount(Collapsible(*self._related(related), title=f"{len(related)} more {word}", collapsed=True))

    def _show_unanswered(self) -> None:
        self.mount(Label("The corpus does not answer this question.", classes="card-note"))
        if self.sources:
            from textual.widgets import Collapsible

            body = self._related(self.numbered("related"))
            self.mount(Collapsible(*body, title=f"Closest passages ({len(self.sources)})", collapsed=False))

    @staticmethod
    def _related(sources: list[tuple[int, Source]]) -> list[Static]:
        body: list[Static] = []
        for n, source in sources:
            body.append(SourceLink(n, source))
            body.append(Static(snippet(source.text), classes="snippet"))
        return body


def reported_by(copies: Iterable[Source]) -> str:
    """The title of the copies' list: "Also reported by 2 outlets", or by copies when outlets repeat or are
    unknown."""
    copies = list(copies)
    outlets = {s.outlet for s in copies if s.outlet}
    if len(outlets) == len(copies):
        return f"Also reported by {len(copies)} {'outlet' if len(copies) == 1 else 'outlets'}"
    return f"Also reported in {len(copies)} {'copy' if len(copies) == 1 else 'copies'} ({len(outlets)} outlets known)"


class ConflictsBlock(Vertical):
    """Sources that answer differently, side by side under the answer: each one's extract, with what it says
    picked out, over its numbered source line (outlet · date · file)."""

    def __init__(self, conflicts: list[Conflict], sources: list[tuple[int, Source]]) -> None:
        super().__init__(classes="conflicts")
        self._rows = list(zip(conflicts, sources))

    def compose(self) -> ComposeResult:
        yield Label("Sources differ:", classes="conflicts-title")
        for conflict, (n, source) in self._rows:
            yield Static(value_content(conflict.text, conflict.value), classes="conflict-text")
            yield SourceLink(n, source)


def value_content(text: str, value: str) -> Content:
    """A conflicting extract with the value it gives styled (its first occurrence), the rest as written."""
    content = Content(text)
    at = text.find(value) if value else -1
    return content.stylize(VALUE_STYLE, at, at + len(value)) if at >= 0 else content


class TimelineCard(AnswerCard):
    """A question's evidence in date order: one row per article (date · outlet · title, over its extract with
    relative dates resolved); each row opens its article, the first nine by the keys 1-9 too."""

    def __init__(self, question: str, waiting: str) -> None:
        super().__init__(question, waiting)
        self.bubble = QuestionBubble(question, "timeline: ")
        self.border_title = "timeline"
        self.evidence: list[Evidence] = []

    def show_timeline(self, evidence: list[Evidence], filters: Filters | None) -> None:
        self.evidence = evidence
        self.sources = timeline_sources(evidence)
        self.remove_children()
        self.set_classes("card timeline" if evidence else "card unanswered")
        word = "article" if len(evidence) == 1 else "articles"
        self.border_title = f"timeline · {len(evidence)} {word}"
        rows: list[Widget] = []
        scope = scope_line(None, None, filters)
        if scope:
            rows.append(Label(scope, classes="card-scope"))
        if not evidence:
            rows.append(Label("Nothing in the corpus matches this question.", classes="card-note"))
        for n, source in enumerate(self.sources, start=1):
            head = Content.assemble(
                (f"[{n}] ", "bold"),
                (date_label(source.date), "bold"),
                " · ",
                source.outlet or "outlet unknown",
                " · ",
                (source.title or source.path, "underline"),
            )
            rows.append(SourceLink(n, source, label=head))
            rows.append(Static(extract_content(source.text, source.dated), classes="snippet"))
        self.mount_all(rows)


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
