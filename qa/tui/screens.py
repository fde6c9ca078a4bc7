"""Screens over the chat: the source view of a cited article, the key help, and error dialogs."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Label, Static

from qa.tui.format import Source, article_sections, meta_line
from qa.tui.widgets import SourceLink

STORY_ROLES = ("answer", "copy")  # the cited article and the other copies of its story

KEYS = [
    ("Enter", "ask the question in the box"),
    ("Up / Down", "walk through earlier questions"),
    ("1-9", "open source n of the latest answer"),
    ("click, Enter", "open the source line under the mouse or focus"),
    ("Escape", "back from an article or this help"),
    ("PgUp / PgDn", "scroll the chat or the article"),
    ("Tab", "move between the box, the chat and its sources"),
    ("ctrl+t", "evidence by date for the box's question, or the last"),
    ("ctrl+r", "re-index new, changed or removed files"),
    ("F1 or ?", "this help"),
    ("ctrl+p", "command palette: themes and more"),
    ("ctrl+q", "quit"),
]
KEYS_NOTE = (  # two lines of at most 70 characters: the box fits an 80x24 terminal
    "1-9 and ? act as keys when the question box is empty. Escape closes.\n"
    "Filter words: since:2021 until:2023-06 outlet:Xinhua as-of:2022-06"
)


class SourceScreen(Screen[None]):
    """The whole cleaned article, scrolled to the cited passage, the extract highlighted. `sources`: the
    numbered sources of the card it was opened from; 1-9 open those, and the head lists the other copies of
    the cited story, so any copy opens from any other."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("pageup", "scroll('page_up')", "Scroll", show=False),
        Binding("pagedown", "scroll('page_down')", "Scroll", show=False),
        Binding("up", "scroll('scroll_up')", show=False),
        Binding("down", "scroll('scroll_down')", show=False),
        Binding("home", "scroll('scroll_home')", show=False),
        Binding("end", "scroll('scroll_end')", show=False),
        *(Binding(str(n), f"open_number({n})", show=False) for n in range(1, 10)),
    ]

    def __init__(self, source: Source, text: str, sources: list[Source] | None = None) -> None:
        super().__init__()
        self.source = source
        self.text = text
        self.sources = sources if sources is not None else [source]

    def copies(self) -> list[tuple[int, Source]]:
        """The other copies of the story of this article (numbered as in its card), when it is one of them."""
        if self.source.role not in STORY_ROLES:
            return []
        numbered = enumerate(self.sources, start=1)
        return [(n, s) for n, s in numbered if s.role in STORY_ROLES and s.article_id != self.source.article_id]

    def compose(self) -> ComposeResult:
        s = self.source
        with Vertical(id="source-head"):
            yield Static(Content(s.title or s.path), id="source-title")
            meta = meta_line(s)
            if s.url:
                meta = f"{meta} · {s.url}" if meta else s.url
            yield Static(Content(meta), id="source-meta")
            copies = self.copies()
            if copies:
                yield Label("Other copies of this story:", id="source-copies")
                for n, copy in copies:
                    yield SourceLink(n, copy)
        before, focus, after = article_sections(self.text, s.passage, s.extract)
        with VerticalScroll(id="article"):
            if before:
                yield Static(before, id="article-before", classes="article-part")
            yield Static(focus, id="article-passage", classes="article-part")
            if after:
                yield Static(after, id="article-after", classes="article-part")
        yield Footer()

    def on_mount(self) -> None:
        # after the first layout, so the passage has its place and the scroll lands on it
        self.call_after_refresh(self._scroll_to_passage)

    def _scroll_to_passage(self) -> None:
        article = self.query_one("#article", VerticalScroll)
        passage = self.query_one("#article-passage")
        article.scroll_to(y=max(0, passage.virtual_region.y - 1), animate=False, immediate=True)
        article.focus()

    def action_scroll(self, how: str) -> None:
        getattr(self.query_one("#article", VerticalScroll), f"action_{how}")()

    def action_open_number(self, number: int) -> None:
        """Source n of the card this article was opened from (the app opens it in place of this view)."""
        if 1 <= number <= len(self.sources):
            self.post_message(SourceLink.Open(self.sources[number - 1]))
        else:
            self.app.bell()


class HelpScreen(ModalScreen[None]):
    """The keys, in one box."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("f1", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in KEYS) + 2
        lines = [Content.assemble((key.ljust(width), "bold"), what) for key, what in KEYS]
        with Vertical(id="help"):
            yield Label("Keys", id="help-title")
            yield Static(Content("\n").join(lines), id="help-keys")
            yield Label(KEYS_NOTE, id="help-hint")


class ErrorDialog(ModalScreen[bool]):
    """An error the person can act on: what went wrong and what to do. Dismissed with True to rebuild."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", "Close")]

    def __init__(self, title: str, message: str, offer_rebuild: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.offer_rebuild = offer_rebuild

    def compose(self) -> ComposeResult:
        with Vertical(id="error"):
            yield Label(self.title_text, id="error-title")
            yield Static(Content(self.message), id="error-message")
            with Horizontal(id="error-buttons"):
                if self.offer_rebuild:
                    yield Button("Rebuild the index", variant="warning", id="rebuild")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "rebuild")
