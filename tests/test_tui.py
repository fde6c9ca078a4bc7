"""The Textual UI: Pilot tests on the seeds with the real model, and SVG snapshots (pytest-textual-snapshot)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from qa.config import Settings
from qa.service import Library

pytestmark = pytest.mark.anyio  # async tests run on asyncio through anyio's pytest plugin

WUXI = "China-Russia digital media cooperation forum boots up in Wuxi"
FORUM_QUESTION = "Where is the next forum hosted?"
UNANSWERABLE = "How do you make a classic Italian carbonara?"
BRIDGE_ARTICLE = """Kelvar Bridge opens to traffic in Marrowdale

MARROWDALE, March 3 -- The new Kelvar Bridge opened to traffic on Tuesday in Marrowdale, a small town on the river Tarn.
The bridge, 412 metres long, was built by the engineering firm Halbrook and cost 41 million euros.
Mayor Ilse Brandt cut the ribbon at the ceremony, which drew about 3,000 residents.
Until now, people crossing the Tarn had to take a ferry that ran twice an hour.
"""
BRIDGE_QUESTION = "How much did the Kelvar Bridge cost?"
DATA = Path(__file__).resolve().parent / "data"
SUMMIT_QUESTION = "Where will the next Meridian Ocean Summit be held?"
SUMMIT_HISTORY = "How did the Meridian Ocean Summit develop?"
COUNT_QUESTION = "How many representatives attended the 13th video conference of Chinese and Russian media?"


# --- helpers -----------------------------------------------------------------------------------------
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path, seed_corpus, seed_index) -> Settings:
    """The seeds and their index copied into tmp_path (the session ones must stay untouched)."""
    corpus = tmp_path / "seeds"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, tmp_path / "index")
    return Settings.from_options(corpus, tmp_path / "index", "all-MiniLM-L6-v2")


@pytest.fixture
def library(settings, embedder):
    """The service over the copied index, with the session's real model already loaded."""
    library = Library(settings, embedder=embedder)
    yield library
    library.close()


@pytest.fixture
def app(library):
    from qa.tui.app import make_app

    return make_app(library)


def indexed(tmp_path_factory, embedder, name: str) -> Settings:  # type: ignore[no-untyped-def]
    """A corpus of tests/data copied and indexed with the real model; its tests only read it."""
    from qa.sync import Indexer

    folder = tmp_path_factory.mktemp(name)
    shutil.copytree(DATA / name, folder / name)
    Indexer(folder / name, folder / "index", embedder).run()
    return Settings.from_options(folder / name, folder / "index", "all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def timeline_settings(tmp_path_factory, embedder) -> Settings:
    """tests/data/timeline: one annual summit reported in 2019, 2021 and 2023 (each naming another next host),
    other dated stories, undated articles and a dateline without a year."""
    return indexed(tmp_path_factory, embedder, "timeline")


@pytest.fixture(scope="module")
def stories_settings(tmp_path_factory, embedder) -> Settings:
    """tests/data/stories: one wire story in three outlets' copies, and an independent report giving another count."""
    return indexed(tmp_path_factory, embedder, "stories")


def app_over(settings, embedder, watch: bool = True):  # type: ignore[no-untyped-def]
    """An app over its own Library (the embedder may be a gated one)."""
    from qa.tui.app import make_app

    return make_app(Library(settings, embedder=embedder), watch=watch)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Until no worker runs and the messages they posted have been handled."""
    quiet = 0
    for _ in range(600):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        quiet = quiet + 1 if all(w.is_finished for w in pilot.app.workers) else 0
        if quiet >= 2:
            return
    raise AssertionError("workers did not settle")


async def ask(pilot, question: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*question)  # each character typed into the focused input
    await pilot.press("enter")
    await settle(pilot)


def text(widget) -> str:  # type: ignore[no-untyped-def]
    """Everything a widget shows, as plain text (its Static and Label descendants, and itself)."""
    from textual.widgets import Static

    parts = [str(widget.render())] if isinstance(widget, Static) else []
    parts += [str(w.render()) for w in widget.query(Static)]
    return "\n".join(parts)


def last_card(app):  # type: ignore[no-untyped-def]
    from qa.tui.widgets import AnswerCard

    return app.query(AnswerCard).last()


def status(app) -> str:  # type: ignore[no-untyped-def]
    return text(app.query_one("#status"))


def notifications(app) -> str:  # type: ignore[no-untyped-def]
    """The notifications on screen, as plain text (shown under `run_test(notifications=True)`)."""
    return "\n".join(str(toast.render()) for toast in app.screen.query("Toast"))


class GatedEmbedder:
    """The session embedder, but query encoding (or, with documents=True, document encoding while indexing)
    waits for `gate`: the model 'is still loading', or the indexer is busy."""

    def __init__(self, inner, gate: threading.Event, documents: bool = False) -> None:  # type: ignore[no-untyped-def]
        self._inner = inner
        self._gate = gate
        self._documents = documents
        self.blocked = threading.Event()  # set once a call is waiting for the gate

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        if not self._documents:
            self.blocked.set()
            assert self._gate.wait(30)
        return self._inner.encode_queries(texts)

    def encode_question(self, question):  # type: ignore[no-untyped-def]
        if not self._documents:
            self.blocked.set()
            assert self._gate.wait(30)
        return self._inner.encode_question(question)

    def encode(self, texts, progress=None):  # type: ignore[no-untyped-def]
        if self._documents:
            self.blocked.set()
            assert self._gate.wait(30)
        return self._inner.encode(texts, progress=progress)

    def encode_with_tokens(self, texts, progress=None, token_rows=frozenset()):  # type: ignore[no-untyped-def]
        if self._documents:
            self.blocked.set()
            assert self._gate.wait(30)
        return self._inner.encode_with_tokens(texts, progress, token_rows)


async def until(pilot, condition, seconds: float = 15) -> None:  # type: ignore[no-untyped-def]
    """Pause until condition() holds, without waiting for every worker (one may be blocked on purpose)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await pilot.pause(0.05)


# --- Pilot tests -------------------------------------------------------------------------------------
async def test_answer_card_cites_and_opens_the_source(app):
    from qa.tui.format import EXTRACT_STYLE
    from qa.tui.screens import SourceScreen
    from qa.tui.widgets import QuestionInput

    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, QuestionInput)  # focused at start
        assert "2 articles" in status(app) and "up to date" in status(app)
        await ask(pilot, FORUM_QUESTION)
        card = last_card(app)
        assert card.has_class("answered")
        shown = text(card)
        assert "Taganrog" in shown
        assert WUXI in shown  # the citation under the passage
        assert app.query_one(QuestionInput).value == ""

        await pilot.press("1")  # open citation 1 of the latest answer
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SourceScreen)
        assert text(screen.query_one("#source-title")) == WUXI
        passage = screen.query_one("#article-passage")
        assert "Taganrog" in text(passage)
        content = passage.render()
        highlighted = [content.plain[s.start : s.end] for s in content.spans if s.style == EXTRACT_STYLE]
        assert any("Taganrog" in h for h in highlighted)  # the extract is highlighted
        article = screen.query_one("#article")
        assert article.scroll_y == max(0, passage.virtual_region.y - 1)  # scrolled to the passage
        assert article.scroll_y > 0

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SourceScreen)
        assert isinstance(app.focused, QuestionInput)


async def test_unanswerable_question_shows_related_passages(app):
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ask(pilot, UNANSWERABLE)
        card = last_card(app)
        assert card.has_class("unanswered")
        shown = text(card)
        assert "does not answer" in shown
        assert "[1]" in shown and WUXI in shown  # the closest passages, as related


async def test_up_and_down_walk_the_history(app):
    from qa.tui.widgets import QuestionInput

    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ask(pilot, FORUM_QUESTION)
        await ask(pilot, UNANSWERABLE)
        box = app.query_one(QuestionInput)
        await pilot.press("d", "r", "a")  # a draft, kept while walking
        await pilot.press("up")
        assert box.value == UNANSWERABLE
        await pilot.press("up")
        assert box.value == FORUM_QUESTION
        await pilot.press("up")  # stays on the oldest
        assert box.value == FORUM_QUESTION
        await pilot.press("down", "down")
        assert box.value == "dra"
        await pilot.press("up", "enter")  # asking a recalled question again
        await settle(pilot)
        assert last_card(app).question == UNANSWERABLE


async def test_question_asked_before_ready_is_answered_once_ready(settings, embedder):
    gate = threading.Event()
    app = app_over(settings, GatedEmbedder(embedder, gate))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert "loading" in status(app)
        await pilot.press(*UNANSWERABLE, "enter")  # superseded by the next one
        await pilot.press(*FORUM_QUESTION, "enter")
        await pilot.pause()
        cards = list(app.query("AnswerCard"))
        assert "Skipped" in text(cards[0])
        assert "Waiting" in text(cards[1])
        gate.set()  # the model is loaded
        await settle(pilot)
        assert cards[1].has_class("answered") and "Taganrog" in text(cards[1])
        assert cards[0].has_class("superseded")


async def test_help_and_digits_only_act_on_an_empty_input(app):
    from qa.tui.screens import HelpScreen
    from qa.tui.widgets import QuestionInput

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "ctrl+t" in text(app.screen) and "as-of:" in text(app.screen)  # the timeline key, the filter words
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("?")  # on the empty input: help
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("1")  # no answer yet: nothing opens, nothing is typed
        assert app.query_one(QuestionInput).value == ""
        await pilot.press("w", "h", "y", "1", "?")  # typed once the box holds text
        assert app.query_one(QuestionInput).value == "why1?"
        assert not isinstance(app.screen, HelpScreen)


async def test_new_article_is_noticed_reindexed_and_answers(settings, embedder):
    app = app_over(settings, embedder)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert "2 articles" in status(app) and "up to date" in status(app)
        (settings.corpus / "kelvar_bridge.txt").write_text(BRIDGE_ARTICLE, encoding="utf-8")
        deadline = time.monotonic() + 15
        while "stale: 1 new" not in status(app):  # the folder watcher noticed the new file
            assert time.monotonic() < deadline, status(app)
            await pilot.pause(0.1)
            await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "3 articles" in status(app) and "up to date" in status(app)
        assert not app.query_one("#progress").has_class("-active")
        await ask(pilot, BRIDGE_QUESTION)
        card = last_card(app)
        assert card.has_class("answered")
        assert "41 million euros" in card.answer.text
        assert card.answer.citation.path == "kelvar_bridge.txt"
        assert "Kelvar Bridge opens to traffic in Marrowdale" in text(card)


async def test_questions_are_answered_from_the_old_index_while_reindexing(settings, embedder):
    gate = threading.Event()
    app = app_over(settings, GatedEmbedder(embedder, gate, documents=True))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        (settings.corpus / "kelvar_bridge.txt").write_text(BRIDGE_ARTICLE, encoding="utf-8")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.query_one("#progress").has_class("-active"))
        assert "re-indexing" in status(app)
        await pilot.press(*FORUM_QUESTION, "enter")  # the indexer is stuck embedding the new article
        await until(pilot, lambda: not last_card(app).pending)
        assert "Taganrog" in text(last_card(app))
        assert app.query_one("#progress").has_class("-active")
        gate.set()
        await settle(pilot)
        assert "3 articles" in status(app) and "up to date" in status(app)
        await ask(pilot, BRIDGE_QUESTION)
        assert "41 million euros" in last_card(app).answer.text


def test_closing_does_not_wait_for_a_reindex(settings, embedder):
    """`app.run()`, not `run_test()`: asyncio.run joins the worker threads on exit, as `qa` does."""
    gate = threading.Event()
    gated = GatedEmbedder(embedder, gate, documents=True)
    app = app_over(settings, gated)
    closing: list[float] = []

    async def auto_pilot(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        (settings.corpus / "kelvar_bridge.txt").write_text(BRIDGE_ARTICLE, encoding="utf-8")
        await pilot.press("ctrl+r")
        await until(pilot, gated.blocked.is_set)  # the sync is embedding the new article, for up to 30 s
        closing.append(time.monotonic())
        await pilot.press("ctrl+q")

    app.run(headless=True, size=(100, 40), auto_pilot=auto_pilot)
    try:
        assert closing and time.monotonic() - closing[0] < 5  # the sync was left in its daemon thread
    finally:
        gate.set()  # it stops at its next progress call: the app is gone


def damage_catalogue(index) -> None:
    (index / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    for name in ("catalog.sqlite-wal", "catalog.sqlite-shm"):
        (index / name).unlink(missing_ok=True)


async def test_corrupt_index_shows_a_dialog_not_a_traceback(settings, embedder):
    from qa.tui.screens import ErrorDialog

    damage_catalogue(settings.index)
    app = app_over(settings, embedder)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "qa index --rebuild" in text(app.screen)
        await pilot.press("escape")
        await pilot.press(*FORUM_QUESTION, "enter")
        await settle(pilot)
        assert last_card(app).has_class("error")  # the question gets the error, in its card
        assert "damaged" in text(last_card(app))


async def test_rebuild_from_the_error_dialog(settings, embedder):
    from qa.tui.screens import ErrorDialog

    damage_catalogue(settings.index)
    app = app_over(settings, embedder)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        await pilot.click("#rebuild")
        await settle(pilot)
        assert "2 articles" in status(app) and "up to date" in status(app)
        await ask(pilot, FORUM_QUESTION)
        assert "Taganrog" in text(last_card(app))


async def test_missing_index_is_built_on_start(tmp_path, seed_corpus, embedder):
    settings = Settings.from_options(seed_corpus, tmp_path / "new-index", "all-MiniLM-L6-v2")
    app = app_over(settings, embedder)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press(*FORUM_QUESTION, "enter")  # asked while the index is being built
        await settle(pilot)
        assert "2 articles" in status(app) and "up to date" in status(app)
        assert "Taganrog" in text(last_card(app))


async def test_library_warnings_become_notifications(settings, embedder):
    (settings.index / "vectors.faiss").write_bytes(b"not a FAISS index" * 100)  # a damaged derived file
    app = app_over(settings, embedder)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await settle(pilot)
        shown = notifications(app)  # warned from the load worker's thread, shown by the app's
        assert "vectors.faiss is damaged" in shown and "rebuilt from the catalogue" in shown
        assert not app.query_one("#progress").has_class("-active")  # nothing re-indexed: the corpus did not change
        await ask(pilot, FORUM_QUESTION)  # answered from the vectors rebuilt in memory
        assert "Taganrog" in text(last_card(app))


async def test_empty_corpus_without_index_says_what_to_do(tmp_path, embedder):
    from qa.tui.screens import ErrorDialog

    (tmp_path / "empty").mkdir()
    settings = Settings.from_options(tmp_path / "empty", tmp_path / "index", "all-MiniLM-L6-v2")
    async with app_over(settings, embedder).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, ErrorDialog)
        assert "no .txt, .md, .html" in text(pilot.app.screen)


def test_core_never_imports_textual():
    """Nor torch: the model loads where first used (test_ask.py's test_core_does_not_import_textual, merged here)."""
    code = (
        "import sys, qa.config, qa.errors, qa.ingest, qa.chunk, qa.embed, qa.store, qa.sync, qa.retrieve, "
        "qa.answer, qa.service, qa.cli; "
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('textual', 'torch')]; assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


def test_ui_modules_load_nothing_that_can_wait_for_the_first_frame():
    """The core, SQLite, the watcher, the screens over the chat and the progress bar load after the window paints
    (in the load worker, or on first use): `eval/bench.py tui` measures what that buys."""
    code = (
        "import sys, qa.cli, qa.tui.app; "
        "late = ('numpy', 'sqlite3', 'faiss', 'onnxruntime', 'torch', 'watchfiles', 'qa.store', 'qa.embed', "
        "'qa.retrieve', 'qa.tui.screens', 'textual.widgets._progress_bar', 'textual.widgets._collapsible'); "
        "loaded = [m for m in late if m in sys.modules]; assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


# --- filter words, the timeline, and what the card says about a citation (issues 11, 12, 13) ---------------------
def day(value: str | None) -> date | None:
    """An article's full date, or None (undated, or month and day only)."""
    return date.fromisoformat(value) if value and not value.startswith("--") else None


async def test_as_of_typed_in_the_question_changes_which_article_answers(timeline_settings, embedder):
    app = app_over(timeline_settings, embedder, watch=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ask(pilot, SUMMIT_QUESTION)  # as of today
        today = last_card(app)
        assert today.has_class("answered")
        assert today.answer.as_of == date.today() and today.answer.citation.path != "meridian-2019.txt"
        assert "as of" not in text(today)  # today, the default, goes without saying

        await ask(pilot, f"as-of:2020-01-01 {SUMMIT_QUESTION}")
        card = last_card(app)
        assert card.has_class("answered")
        assert card.answer.question == SUMMIT_QUESTION  # the filter word was split off the question
        assert card.answer.as_of == date(2020, 1, 1)
        assert card.answer.citation.path == "meridian-2019.txt"  # the host announced in 2019: Tallinn
        assert all(day(h.date) is None or day(h.date) <= date(2020, 1, 1) for h in card.answer.hits)
        shown = text(card)
        assert "as of 2020-01-01" in shown  # the card says what it was limited to
        assert "Harbour Wire · 2019-09-12 · meridian-2019.txt" in shown  # the citation's outlet and date
        assert "as-of:2020-01-01" in text(card.bubble)  # the question as typed


async def test_since_until_and_outlet_words_keep_every_hit_inside(timeline_settings, embedder):
    app = app_over(timeline_settings, embedder, watch=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ask(pilot, f"until:2020-12-31 {SUMMIT_QUESTION}")
        card = last_card(app)
        hits = card.answer.hits
        assert hits and all(day(h.date) is not None and day(h.date) <= date(2020, 12, 31) for h in hits)
        assert "until 2020-12-31" in text(card)
        for link in card.query("SourceLink"):  # every source line says its outlet and date
            source = link.source
            assert f"{source.outlet} · {source.date} · {source.path}" in text(link)

        await ask(pilot, f"since:2021-01-01 outlet:Atlantic {SUMMIT_QUESTION}")
        card = last_card(app)
        hits = card.answer.hits
        assert hits and all(day(h.date) >= date(2021, 1, 1) and h.outlet == "Atlantic Dispatch" for h in hits)
        assert card.answer.citation.path == "meridian-2023.json"
        assert "since 2021-01-01 · outlet Atlantic" in text(card)


async def test_a_bad_date_is_one_line_in_the_card(app):
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ask(pilot, f"since:2023-13-45 {FORUM_QUESTION}")
        card = last_card(app)
        assert card.has_class("error")
        shown = text(card)
        assert shown.startswith("cannot read the date '2023-13-45'")
        assert "\n" not in shown and "Traceback" not in shown
        await ask(pilot, f"since:2024 until:2023 {FORUM_QUESTION}")
        assert text(last_card(app)) == "since:2024-01-01 is after until:2023-12-31: nothing can match"
        await ask(pilot, FORUM_QUESTION)  # and the next question is answered
        assert "Taganrog" in text(last_card(app))


async def test_timeline_key_lists_the_evidence_by_date_and_opens_each_row(timeline_settings, embedder):
    from qa.tui.format import EXTRACT_STYLE
    from qa.tui.screens import SourceScreen
    from qa.tui.widgets import QuestionInput, TimelineCard

    app = app_over(timeline_settings, embedder, watch=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press(*SUMMIT_HISTORY)
        await pilot.press("ctrl+t")  # the question in the box
        await settle(pilot)
        card = last_card(app)
        assert isinstance(card, TimelineCard) and app.query_one(QuestionInput).value == ""
        rows = card.sources
        assert len(rows) == len(card.evidence) >= 3
        days = [day(s.date) for s in rows]
        dated = [d for d in days if d is not None]
        assert dated == sorted(dated) and days[: len(dated)] == dated  # oldest first, undated last
        paths = [s.path for s in rows]
        assert paths.index("meridian-2019.txt") < paths.index("meridian-2021.html") < paths.index("meridian-2023.json")
        shown = text(card)
        assert "[1] 2019-09-12 · Harbour Wire · Meridian Ocean Summit ends in Valletta" in shown
        assert f"timeline · {len(rows)} articles" == card.border_title

        second = rows[1]
        await pilot.press("2")  # row 2 opens its article, the row's sentence highlighted
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source == second
        content = screen.query_one("#article-passage").render()
        highlighted = [content.plain[s.start : s.end] for s in content.spans if s.style == EXTRACT_STYLE]
        assert highlighted == [second.text]
        chat = app.screen_stack[0]
        await pilot.press("ctrl+t")  # not over an article
        await settle(pilot)
        assert len(chat.query(TimelineCard)) == 1 and isinstance(app.screen, SourceScreen)
        await pilot.press("escape")

        await ask(pilot, f"until:2020-12-31 {SUMMIT_QUESTION}")
        await pilot.press("ctrl+t")  # an empty box: the last question, with its filter words
        await settle(pilot)
        card = last_card(app)
        assert isinstance(card, TimelineCard)
        assert "timeline: until:2020-12-31" in text(card.bubble)
        assert "until 2020-12-31" in text(card)
        assert card.sources and all(day(s.date) is not None and day(s.date) <= date(2020, 12, 31) for s in card.sources)


def story_answer(library):  # type: ignore[no-untyped-def]
    """The count question's real answer (the library lists the cited wire story's other copies and the
    independent report that counts differently), with the fields it does not fill yet set by hand: a
    confidence (issue 11) and the extract with its relative date resolved."""
    from qa.dates import annotate_relative

    answer = library.ask(COUNT_QUESTION, sync=False)
    assert answer.answered and len(answer.also_reported_by) == 2 and answer.conflicts
    answer.confidence = 0.8234
    answer.dated_text = annotate_relative(answer.text, answer.citation.date)
    assert "launched Monday (2020-10-19)" in answer.dated_text
    return answer


async def show_answer(pilot, answer):  # type: ignore[no-untyped-def]
    """The answer in a card of the chat, through the handler a search worker's message reaches."""
    from qa.tui.messages import AnswerReady
    from qa.tui.widgets import AnswerCard

    await pilot.app.query("#welcome").remove()  # as asking does
    card = AnswerCard(answer.question, "Searching…")
    await pilot.app.query_one("#chat").mount(card.bubble, card)
    pilot.app.post_message(AnswerReady(card, answer))
    await settle(pilot)
    return card


async def test_card_shows_sources_that_differ_and_the_other_copies(stories_settings, embedder):
    from textual.widgets import Collapsible

    from qa.tui.format import VALUE_STYLE
    from qa.tui.screens import SourceScreen

    app = app_over(stories_settings, embedder, watch=False)
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        await ask(pilot, COUNT_QUESTION)
        card = last_card(app)
        answer = card.answer
        assert answer.answered and answer.conflicts and len(answer.also_reported_by) == 2
        assert [s.role for s in card.sources[:4]] == ["answer", "conflict", "copy", "copy"]

        conflicts = card.query_one(".conflicts")
        block = text(conflicts)
        assert block.startswith("Sources differ:")
        assert "Some 50 media representatives" in block
        assert "[2] Russian and Chinese journalists" in block
        assert "Moscow Media Review · 2020-10-21 · moscow_media_review_video_conference.txt" in block
        value = conflicts.query_one(".conflict-text").render()
        assert [value.plain[s.start : s.end] for s in value.spans if s.style == VALUE_STYLE] == ["Some 50"]

        copies = card.query_one(".copies", Collapsible)
        assert copies.title == "Also reported by 2 outlets" and copies.collapsed
        listed = text(copies)
        for copy in answer.also_reported_by:  # outlet, date and file of each
            assert f"{copy.title}\n    {copy.outlet} · {copy.date} · {copy.path}" in listed
        assert "also in:" not in text(card)  # a copy is listed once, as a copy
        await pilot.click(".copies CollapsibleTitle")  # expands the list
        await pilot.pause()
        assert not copies.collapsed

        third, fourth = card.sources[2], card.sources[3]
        await pilot.press("3")  # a copy opens like any source
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source.path == third.path
        head = text(screen.query_one("#source-head"))
        assert "Other copies of this story:" in head
        assert f"[1] {answer.citation.title}" in head and f"[4] {fourth.title}" in head
        assert f"[3] {third.title}" not in head  # the one on screen
        await pilot.press("4")  # another copy, from the source view
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen) and app.screen.source.path == fourth.path
        assert f"[3] {third.title}" in text(app.screen.query_one("#source-head"))


async def test_card_shows_confidence_and_the_dated_extract(stories_settings, embedder):
    from qa.tui.format import EXTRACT_STYLE, RESOLVED_STYLE

    app = app_over(stories_settings, embedder, watch=False)
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        card = await show_answer(pilot, story_answer(app.library))
        assert app.latest is card  # its sources open with 1-9
        assert text(card.query_one(".card-scope")) == "confidence 0.82"
        # the dated extract in place of the plain one, the added date styled apart from the verbatim words
        passage = card.query_one(".passage").render()
        styled = {(s.style, passage.plain[s.start : s.end]) for s in passage.spans}
        assert (RESOLVED_STYLE, " (2020-10-19)") in styled
        assert any(style == EXTRACT_STYLE and "launched Monday (2020-10-19)" in part for style, part in styled)
        assert "launched Monday (2020-10-19)" not in card.answer.passage  # the passage itself is verbatim


def test_a_copy_cited_without_offsets_is_located_when_it_carries_the_extract(stories_settings, embedder):
    from qa.tui.format import Source, locate_copy

    library = Library(stories_settings, embedder=embedder)
    try:
        article = library.article("xinhua_media_conference.txt").text
    finally:
        library.close()
    sentence = "The conference, which is the 13th of its kind, was attended by more than 40 representatives"
    copy = Source("xinhua_media_conference.txt", "t", "Xinhua", None, "p", None, (0, 0), None, sentence, "copy")
    at = article.index(sentence)
    assert locate_copy(copy, article).extract == (at, at + len(sentence))
    edited = Source("x", "t", None, None, "p", None, (0, 0), None, sentence.replace("more than", "over"), "copy")
    assert locate_copy(edited, article) == edited  # not verbatim there: opened at the top


# --- pure formatting ---------------------------------------------------------------------------------
def test_sources_number_the_citation_first_then_other_passages(retriever):
    from qa.answer import answer
    from qa.tui.format import sources_of

    result = answer(retriever, FORUM_QUESTION)
    sources = sources_of(result)
    assert sources[0].role == "answer" and sources[0].title == WUXI
    start, end = sources[0].extract
    article = retriever.article(sources[0].article_id)
    assert "Taganrog" in article.text[start:end]
    assert article.text[slice(*sources[0].passage)] == result.passage
    assert len({(s.article_id, s.passage) for s in sources}) == len(sources)  # the answer's passage once


def test_article_sections_split_at_paragraphs_and_keep_the_highlight():
    from qa.tui.format import EXTRACT_STYLE, article_sections

    text = "Title\nFirst paragraph.\nSecond one. The answer is here. More.\nThird.\n\nFourth."
    start = text.index("The answer")
    extract = (start, start + len("The answer is here."))
    before, focus, after = article_sections(text, (text.index("Second"), text.index("Third") - 1), extract)
    assert before.plain == "Title\n\nFirst paragraph."
    assert focus.plain == "Second one. The answer is here. More."
    assert after.plain == "Third.\n\nFourth."
    assert [focus.plain[s.start : s.end] for s in focus.spans if s.style == EXTRACT_STYLE] == ["The answer is here."]


# --- snapshots ---------------------------------------------------------------------------------------
async def _ready(pilot) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Input

    pilot.app.query_one(Input).cursor_blink = False  # a blinking cursor would make the SVG flaky
    await settle(pilot)


def test_snapshot_empty_app(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_ready)


def test_snapshot_answer_card(snap_compare, app):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await ask(pilot, FORUM_QUESTION)  # typed, Enter, answered

    assert snap_compare(app, terminal_size=(100, 32), run_before=run_before)


def test_snapshot_answer_card_small_terminal(snap_compare, app):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await ask(pilot, FORUM_QUESTION)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_source_view(snap_compare, app):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await ask(pilot, FORUM_QUESTION)
        await pilot.press("1")  # citation 1 of the latest answer
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_sources_open_by_click_and_by_keys_from_the_chat(app):
    from qa.tui.screens import SourceScreen
    from qa.tui.widgets import SourceLink

    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await ask(pilot, FORUM_QUESTION)
        await pilot.click(SourceLink)  # the citation under the passage
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen) and app.screen.source.role == "answer"
        await pilot.press("escape")
        await pilot.press("tab")  # focus leaves the input: digits are keys there too
        assert app.focused is not None and app.focused.id != "question"
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen) and app.screen.source.role != "answer"


async def test_index_updated_by_another_process_is_reloaded(settings, embedder):
    app = app_over(settings, embedder, watch=False)  # the periodic check alone notices the other process
    app.recheck_seconds = 0.3  # 10 s in use
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await settle(pilot)
        (settings.corpus / "kelvar_bridge.txt").write_text(BRIDGE_ARTICLE, encoding="utf-8")
        other = Library(settings, embedder=embedder)  # `qa index` in another terminal
        await asyncio.to_thread(other.index)
        other.close()
        await until(pilot, lambda: "reloaded" in notifications(app))
        assert "3 articles" in status(app) and "up to date" in status(app)
        await settle(pilot)
        await ask(pilot, BRIDGE_QUESTION)  # answered from the reloaded index, not the one opened at start
        assert "41 million euros" in last_card(app).answer.text


async def test_worker_messages_that_arrive_as_the_app_closes_are_ignored(settings, embedder):
    """A staleness check or an index run can end while the app closes and its status line and progress panel
    are already gone (CI saw it once, in the test above): their results have nowhere to go, and must not raise."""
    from qa.tui.messages import IndexDone, IndexFailed, IndexProgress, LoadFailed, StaleChecked
    from qa.tui.widgets import ProgressPanel

    app = app_over(settings, embedder, watch=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await app.query_one("#status").remove()  # as when the app tears its screen down
        await app.query_one(ProgressPanel).remove()
        for message in (
            StaleChecked("up to date", None),
            IndexProgress("re-indexing", "embedding", 1, 2),
            IndexDone("1 added", None),
            IndexFailed("disk full", False),
            LoadFailed("damaged", False),
        ):
            app.post_message(message)
        await pilot.pause()
        await pilot.pause()
        assert app.is_running


def test_snapshot_card_with_confidence_conflicts_and_copies(snap_compare, stories_settings, embedder):
    """The card of issues 11-13: confidence, the dated extract, "Sources differ:", the copies (collapsed)."""
    app = app_over(stories_settings, embedder, watch=False)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await show_answer(pilot, story_answer(pilot.app.library))  # as the search worker's message would

    assert snap_compare(app, terminal_size=(100, 40), run_before=run_before)


def test_snapshot_timeline(snap_compare, timeline_settings, embedder):
    app = app_over(timeline_settings, embedder, watch=False)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        await pilot.press(*SUMMIT_HISTORY)  # typed, then ctrl+t instead of Enter
        await pilot.press("ctrl+t")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 40), run_before=run_before)
