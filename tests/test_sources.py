"""One story, many outlets, end to end: story groups in the index, distinct-story hits, also reported by,
conflicting reports side by side (real model and index over tests/data/stories)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.filters import Filters

from .conftest import DATA, HashEmbedder

STORIES = DATA / "stories"
COUNT = "How many representatives attended the 13th video conference of Chinese and Russian media?"
COPIES = {"xinhua_media_conference.txt", "peoples_daily_media_conference.txt", "asia_news_portal_media_conference.txt"}


@pytest.fixture(scope="session")
def stories_library(tmp_path_factory, embedder):
    from qa.config import Settings
    from qa.service import Library

    folder = tmp_path_factory.mktemp("stories-index")
    library = Library(Settings.from_options(STORIES, folder), embedder)
    report = library.index()
    assert report.stories == 1  # the wire story and its two republications; the rest stand alone
    return library


def test_copies_share_a_story_and_different_stories_do_not(stories_library):
    catalog = stories_library.retriever().catalog
    stories = dict(catalog.db.execute("SELECT path, story FROM articles"))
    assert len({stories[p] for p in COPIES}) == 1
    others = {p: s for p, s in stories.items() if p not in COPIES}
    assert len(set(others.values())) == len(others) and not set(others.values()) & {stories[p] for p in COPIES}


def test_top_hits_hold_no_two_copies_of_one_story(stories_library):
    hits = stories_library.retriever().search(COUNT, k=5)
    by_story: dict[str, set[str]] = {}
    for h in hits:
        by_story.setdefault(h.story or h.article_id, set()).add(h.article_id)
    assert all(len(articles) == 1 for articles in by_story.values())
    assert len(by_story) >= 3


def test_the_count_question_shows_both_counts_side_by_side(stories_library):
    result = stories_library.ask(COUNT, sync=False)
    assert result.answered and result.citation is not None and result.text
    sides = [(result.citation, result.text)] + [(c.citation, c.text) for c in result.conflicts]
    outlets = {cite.outlet for cite, _ in sides}
    assert "Moscow Media Review" in outlets and outlets & {"Xinhua", "People's Daily Online", "Asia News Portal"}
    assert any("50" in text for _, text in sides) and any("40" in text for _, text in sides)
    assert all(cite.date for cite, _ in sides)
    data = result.to_dict()["answer"]
    assert set(data["conflicts"][0]) == {"text", "value", "citation"}
    assert {"title", "outlet", "date", "path"} <= set(data["conflicts"][0]["citation"])


def test_a_cited_copy_lists_the_other_copies_of_its_story(stories_library):
    portal = stories_library.ask(COUNT, sync=False, filters=Filters(outlets=("Asia News Portal",)))
    assert portal.citation is not None and portal.citation.path == "asia_news_portal_media_conference.txt"
    assert portal.also_reported_by[0].path == "xinhua_media_conference.txt"  # the wire's own copy first
    result = stories_library.ask(COUNT, sync=False, filters=Filters(outlets=("Xinhua",)))
    assert result.citation is not None and result.citation.path == "xinhua_media_conference.txt"
    assert {c.path for c in result.also_reported_by} == COPIES - {result.citation.path}
    words = set(result.text.lower().split())
    for copy in result.also_reported_by:  # each copy opens at its own sentence(s) carrying the extract
        assert copy.outlet and copy.date
        span = stories_library.article(copy.article_id).text[copy.start : copy.end]
        if copy.path == "peoples_daily_media_conference.txt":  # a verbatim republication
            assert span == result.text
        else:  # the lightly edited portal copy
            assert len(words & set(span.lower().split())) > len(words) / 2
    assert {"also_reported_by", "conflicts"} <= set(result.to_dict()["answer"])


def test_no_false_conflict_where_sources_agree(stories_library, retriever):
    from qa.answer import answer

    when = "When was the 13th video conference of Chinese and Russian media launched?"
    launched = stories_library.ask(when, sync=False)
    assert launched.answered and launched.conflicts == []
    taganrog = answer(retriever, "Where is the next forum hosted?")
    assert "Taganrog" in (taganrog.text or "") and taganrog.conflicts == []


def test_an_outlet_filter_finds_the_story_through_its_copy(stories_library):
    hits = stories_library.retriever().search(COUNT, k=3, filters=Filters(outlets=("People's Daily",)))
    assert hits and all(h.outlet == "People's Daily Online" for h in hits)


def test_groups_follow_additions_and_removals(tmp_path):
    """Bookkeeping only: the hashing stand-in embeds; groups come from the article texts."""
    from qa.store import Catalog
    from qa.sync import Indexer

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(STORIES, corpus)
    (corpus / "expected.toml").unlink()

    def groups() -> dict[str, set[str]]:
        catalog = Catalog(index)
        out: dict[str, set[str]] = {}
        for path, story in catalog.db.execute("SELECT path, story FROM articles"):
            out.setdefault(story, set()).add(path)
        catalog.close()
        return {s: p for s, p in out.items() if len(p) > 1}

    Indexer(corpus, index, HashEmbedder()).run()
    assert list(groups().values()) == [COPIES]
    moved = corpus / "asia_news_portal_media_conference.txt"
    text = moved.read_text()
    moved.unlink()
    report = Indexer(corpus, index, HashEmbedder()).run()
    assert report.removed == 1 and list(groups().values()) == [COPIES - {moved.name}]
    Path(corpus / "portal-again.txt").write_text(text)
    Indexer(corpus, index, HashEmbedder()).run()
    assert list(groups().values()) == [(COPIES - {moved.name}) | {"portal-again.txt"}]
