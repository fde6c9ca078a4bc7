"""Story groups: copies of one article share a story id, different stories on one topic do not."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import tomllib

from qa import stories
from qa.ingest import list_files, parse_file
from qa.stories import ArticleInfo, StoryIndex, representative, signature

DATA = Path(__file__).parent / "data" / "stories"
SAMPLE = Path(__file__).parent.parent / "eval" / "stories_sample.jsonl"


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[str, str | None, str | None]]:
    """The test corpus as the indexer sees it: id -> (text, date, outlet)."""
    out = {}
    for path in list_files(DATA):
        for a in parse_file(path, DATA).articles:
            out[a.id] = (a.text, a.date, a.outlet)
    return out


@pytest.fixture(scope="module")
def expected() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((DATA / "expected.toml").read_text())


@pytest.fixture(scope="module")
def sample() -> list[dict[str, str]]:
    return [json.loads(line) for line in SAMPLE.open()]


def _grouping(index: StoryIndex, ids: list[str]) -> set[frozenset[str]]:
    return {frozenset(index.members(index.story_of(a) or "")) for a in ids}


def test_signature_is_compact_and_deterministic() -> None:
    text = "BEIJING, Oct. 21 (Xinhua) -- China and Russia will step up efforts in media cooperation."
    sig = signature(text)
    assert len(sig) == stories.SIGNATURE_BYTES == 4 * (stories.NUM_PERM + 1)
    assert sig == signature(text)
    size, values = stories.split(sig)
    assert size == len(stories.shingles(text))
    # punctuation and case are not what makes another story
    assert signature(text.upper().replace("--", "—")) == sig
    with pytest.raises(ValueError):
        stories.split(sig[:-4])


def test_test_corpus_groups_as_expected(corpus, expected) -> None:  # type: ignore[no-untyped-def]
    index = StoryIndex()
    for article_id, (text, _, _) in sorted(corpus.items()):
        index.add(article_id, signature(text))
    want = {frozenset(s["members"]) for s in expected["stories"]}
    assert _grouping(index, list(corpus)) == want
    assert index.groups() == 1
    copies = next(s for s in expected["stories"] if len(s["members"]) > 1)
    infos = [ArticleInfo(a, corpus[a][1], corpus[a][2], corpus[a][0]) for a in copies["members"]]
    assert representative(infos) == copies["representative"]


def test_sample_precision_and_recall(sample) -> None:  # type: ignore[no-untyped-def]
    index = StoryIndex()
    for item in sample:
        index.add(item["id"], signature(item["text"]))
    for a in sample:
        for b in sample:
            together = index.story_of(a["id"]) == index.story_of(b["id"])
            assert together == (a["story"] == b["story"]), (a["id"], b["id"], a["kind"], b["kind"])


def test_boilerplate_headline_and_edits_still_group(sample) -> None:  # type: ignore[no-untyped-def]
    by_id = {item["id"]: item["text"] for item in sample}
    original = signature(by_id["A0"])
    for copy in ("A1", "A2", "A3", "A9", "A4"):  # page furniture, portal disclaimer, edits, a correction
        assert stories.is_copy(original, signature(by_id[copy])), copy
    assert stories.is_copy(signature(by_id["C0"]), signature(by_id["C2"]))  # cut short: first four paragraphs


def test_same_topic_different_stories_stay_apart(sample) -> None:  # type: ignore[no-untyped-def]
    by_id = {item["id"]: item["text"] for item in sample}
    # the same agency's template for last year's conference, last month's rate decision, the next day's
    # market close, the women's race of the same marathon, a follow-up reusing background sentences
    for a, b in (("A0", "A7"), ("C0", "C4"), ("E0", "E2"), ("D0", "D4"), ("B0", "B5"), ("A0", "A5")):
        j, c = stories.similarity(signature(by_id[a]), signature(by_id[b]))
        assert not stories.is_copy(signature(by_id[a]), signature(by_id[b])), (a, b, j, c)


def test_short_brief_inside_a_roundup_is_not_its_copy() -> None:
    brief = "The Veloria Composite Index rose 0.8 percent to close at 3,214.56 points on Monday, led by bank shares."
    other = " ".join(
        f"Story {n}: the council of district {n} approved a new budget for roads and schools on its {n}th vote."
        for n in range(30)
    )
    assert not stories.is_copy(signature(brief), signature(f"{other} {brief}"))


def test_empty_text_matches_nothing() -> None:
    index = StoryIndex()
    assert index.add("a", signature("")) == "a"
    assert index.add("b", signature("")) == "b"
    assert index.groups() == 0


def test_add_merges_groups_a_bridge_joins_and_remove_splits(sample) -> None:  # type: ignore[no-untyped-def]
    # L and R share nothing; M (the end of L and the start of R) is a copy of each
    words = [f"w{n}" for n in range(400)]
    left, right = " ".join(words[:200]), " ".join(words[200:])
    middle = " ".join(words[60:340])
    assert not stories.is_copy(signature(left), signature(right))
    index = StoryIndex()
    index.add("L", signature(left))
    index.add("R", signature(right))
    assert index.groups() == 0
    index.take_changes()
    index.add("M", signature(middle))
    assert index.story_of("L") == index.story_of("R") == index.story_of("M") == "L"
    assert index.take_changes() == {"M": "L", "R": "L"}  # only the rows that moved
    index.remove("M")
    assert (index.story_of("L"), index.story_of("R")) == ("L", "R")
    assert index.take_changes() == {"R": "R"}
    assert index.members("L") == ["L"] and index.story_of("M") is None


def test_story_id_is_the_smallest_member_and_follows_removal(sample) -> None:  # type: ignore[no-untyped-def]
    by_id = {item["id"]: item["text"] for item in sample}
    index = StoryIndex()
    for a in ("B1", "B2", "B0"):
        index.add(a, signature(by_id[a]))
    assert index.story_of("B1") == "B0" and index.members("B0") == ["B0", "B1", "B2"]
    index.remove("B0")
    assert index.story_of("B1") == index.story_of("B2") == "B1"
    # re-adding a changed article replaces its old signature
    index.add("B2", signature(by_id["B4"]))
    assert index.members("B1") == ["B1"] and index.story_of("B2") == "B2"


def test_incremental_equals_rebuild_in_any_order(sample) -> None:  # type: ignore[no-untyped-def]
    sigs = {item["id"]: signature(item["text"]) for item in sample}
    rebuilt = StoryIndex.from_rows(sorted(sigs.items()))
    expected = _grouping(rebuilt, list(sigs))
    order = list(sigs)
    random.Random(13).shuffle(order)
    index = StoryIndex()
    for a in order:
        index.add(a, sigs[a])
    assert _grouping(index, order) == expected
    assert {a: index.story_of(a) for a in sigs} == {a: rebuilt.story_of(a) for a in sigs}
    # remove then add back: same groups again
    for a in ("A0", "B0", "C1"):
        index.remove(a)
    assert index.story_of("A1") == "A1" and index.members("A1") == ["A1", "A2", "A3", "A4", "A9"]
    for a in ("A0", "B0", "C1"):
        index.add(a, sigs[a])
    assert _grouping(index, order) == expected


def test_from_rows_reports_stored_stories_that_are_stale(sample) -> None:  # type: ignore[no-untyped-def]
    sigs = {item["id"]: signature(item["text"]) for item in sample if item["topic"] == "D"}
    rows = [(a, s, a) for a, s in sigs.items()]  # stored as if each were alone
    trusted = StoryIndex.from_rows(rows)  # an incremental run takes the stored groups as they are
    assert trusted.take_changes() == {} and trusted.groups() == 0
    index = StoryIndex.from_rows(rows, verify=True)
    assert index.take_changes() == {"D1": "D0", "D2": "D0"}
    assert index.members("D0") == ["D0", "D1", "D2"]
    assert StoryIndex.from_rows([(a, s, index.story_of(a)) for a, s in sigs.items()], verify=True).take_changes() == {}
    # without stored stories (a catalogue from before story groups) every row is reported
    everyone = {"D0": "D0", "D1": "D0", "D2": "D0", "D3": "D3", "D4": "D4"}
    assert StoryIndex.from_rows(list(sigs.items())).take_changes() == everyone


def test_many_articles_force_a_resort_and_still_find_copies(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(stories, "FRESH_LIMIT", 16)  # re-sort the band tables every 16 additions
    texts = [" ".join(f"t{n}x{k}" for k in range(60)) for n in range(50)]
    index = StoryIndex()
    for n, t in enumerate(texts):
        index.add(f"a{n:02d}", signature(t))
    index.remove("a03")
    for n in (0, 5, 20, 49):  # copies of old (sorted) and new rows, with a light edit
        edited = texts[n].replace(f"t{n}x7 ", "changed ")
        assert index.add(f"copy{n}", signature(edited + " Source: Xinhua")) == f"a{n:02d}"
    assert index.groups() == 4 and len(index) == 53


def test_representative_prefers_the_wire_agency_then_the_earliest() -> None:
    wire = ArticleInfo("b.txt", "2020-10-21", "Xinhua", "BEIJING, Oct. 21 (Xinhua) -- China and Russia ...")
    page = ArticleInfo("a.txt", "2020-10-21", "People's Daily Online", "BEIJING, Oct. 21 (Xinhua) -- China ...")
    portal = ArticleInfo("0.txt", "2020-10-20", "Asia News Portal", "Chinese and Russian media will ...")
    assert representative([portal, page, wire]) == "b.txt"  # the agency's own copy
    assert representative([portal, page]) == "a.txt"  # credits the agency in its dateline
    later = ArticleInfo("c.txt", "2020-10-25", "Daily Ledger", "By The Associated Press\nMILLBROOK (AP) — ...")
    assert representative([portal, later]) == "c.txt"
    undated = ArticleInfo("d.txt", None, "Blog", "Some text.")
    assert representative([undated, ArticleInfo("e.txt", "2021-01-01", "Blog", "Other.")]) == "e.txt"
    assert representative([ArticleInfo("z", "2021-01-02"), ArticleInfo("y", "2021-01-02")]) == "y"
    assert stories.names_wire_agency(ArticleInfo("r", text="VELORA, March 6 (Reuters) - The bank ..."))
    assert stories.names_wire_agency(ArticleInfo("s", text="Title\nSource: AFP\nBody."))
    assert not stories.names_wire_agency(ArticleInfo("t", text="APPLE shares rose; a tapas bar opened."))
    with pytest.raises(ValueError):
        representative([])


def test_importing_stories_does_not_load_datasketch() -> None:
    """Readers import qa.stories for story ids; only signing (the indexer) pays datasketch's ~1 s import."""
    import subprocess
    import sys

    code = "import sys, qa.stories, qa.conflicts; print('datasketch' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
