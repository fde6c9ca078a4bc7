"""Ingestion of every format, boilerplate removal on the scraped seed, and metadata."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.chunk import split_sentences
from qa.ingest import Unreadable, list_files, parse_file

from .conftest import DATA, SEEDS

SEED_WUXI = "000_ec996563e8ac1e77.txt"
SEED_XINHUA = "004_5c3169ff0993c69b.txt"


def one(path: Path, root: Path = DATA):
    parsed = parse_file(path, root)
    assert len(parsed.articles) == 1
    return parsed.articles[0]


def test_seed_titles_and_date():
    wuxi = one(SEEDS / SEED_WUXI, SEEDS)
    xinhua = one(SEEDS / SEED_XINHUA, SEEDS)
    assert wuxi.title == "China-Russia digital media cooperation forum boots up in Wuxi"
    assert xinhua.title == "China, Russia vow to up media cooperation in post-epidemic era"
    assert xinhua.date == "2020-10-22"
    assert xinhua.outlet == "Xinhua"


def test_seed_004_keeps_every_body_sentence_and_no_boilerplate():
    raw = (SEEDS / SEED_XINHUA).read_text()
    article = one(SEEDS / SEED_XINHUA, SEEDS)
    body_start = raw.index("BEIJING, Oct. 21")
    body_end = raw.index("(For the latest China news")
    for paragraph in raw[body_start:body_end].split("\n"):
        for a, b in split_sentences(paragraph):
            assert paragraph[a:b] in article.text
    furniture = [
        "We Recommend",
        "Most Read",
        "Key Words",
        "Top 10",
        "Related reading",
        "Hot News",
        "Links:",
        "HomeOpinions",
        "Xi JinpingBelt",
        "Add your comment",
        "Web editor",
        "Popular on Global Times",
        "Apple News",
        "English>>",
        "Archive",
    ]
    for line in furniture:
        assert line not in article.text, line


def test_seed_000_keeps_all_paragraphs():
    raw = (SEEDS / SEED_WUXI).read_text()
    article = one(SEEDS / SEED_WUXI, SEEDS)
    for line in raw.splitlines():
        assert line.strip() in article.text


def test_html_drops_menus_and_reads_metadata():
    article = one(DATA / "bridge.html")
    assert article.title == "Springfield bridge to open in May"
    assert article.date == "2021-03-04"
    assert article.outlet == "The Springfield Herald"
    assert article.url == "https://herald.example/bridge"
    assert "20,000 cars a day" in article.text
    for junk in ("Most Read", "Celebrity chef", "World", "Copyright"):
        assert junk not in article.text


def test_markdown_front_matter_and_links():
    article = one(DATA / "harbour.md")
    assert (article.title, article.date, article.outlet) == (
        "Harbour festival draws record crowds",
        "2022-07-09",
        "Coastal Times",
    )
    assert article.url == "https://coastal.example/harbour"
    assert "Albatross" in article.text and "**" not in article.text
    assert "[Home]" not in article.text and "| News |" not in article.text


def test_jsonl_records_and_bad_line_warning():
    parsed = parse_file(DATA / "wire.jsonl", DATA)
    assert [a.id for a in parsed.articles] == ["wire.jsonl#w1", "wire.jsonl#w2"]
    rail, comet = parsed.articles
    assert rail.title == "Rail strike called off" and rail.outlet == "Wire Service"
    assert rail.date == "2023-02-14" and comet.date == "2023-03-14"
    assert len(parsed.warnings) == 1 and re.search(r"wire\.jsonl:2: malformed JSON", parsed.warnings[0])


def test_plain_text_title_is_first_line():
    article = one(DATA / "fete.txt")
    assert article.title == "Plain headline about a quiet village fete"


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("binary.txt", b"\x00\x01\x02\x03" * 100, "binary"),
        ("empty.txt", b"", "no article text"),
        ("menu.txt", b"Home\nWorld\nSport\nMost Read\nTop 10\n", "no article text"),
        ("broken.json", b'{"title": "x", ', "malformed JSON"),
    ],
)
def test_unreadable_files_raise_with_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(Unreadable, match=reason):
        parse_file(path, tmp_path)


def test_legacy_encodings_are_decoded(tmp_path):
    text = "Le maire de Montréal a annoncé lundi que le nouveau pont ouvrira en mai prochain après trois ans."
    (tmp_path / "latin.txt").write_bytes(text.encode("latin-1"))
    assert "Montréal" in one(tmp_path / "latin.txt", tmp_path).text


def test_list_files_recursive_skips_hidden_and_loops(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.txt").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "notes.pdf").write_text("x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    assert [p.relative_to(tmp_path).as_posix() for p in list_files(tmp_path)] == ["a/b/x.txt"]
