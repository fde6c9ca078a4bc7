"""Ingestion of every format, boilerplate removal on the scraped seed, and metadata."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from qa.chunk import split_sentences
from qa.ingest import Unreadable, list_files, parse_date, parse_file

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


# Publication dates and outlets from each kind of source (tests/data/timeline) ---------------------------------------
TIMELINE = DATA / "timeline"


@pytest.mark.parametrize(
    "name, article_id, date, outlet",
    [
        # a dateline with a year: "VALLETTA, Sept. 12, 2019 (Harbour Wire) --"
        ("meridian-2019.txt", "meridian-2019.txt", "2019-09-12", "Harbour Wire"),
        # <meta property="article:published_time">, og:site_name
        ("meridian-2021.html", "meridian-2021.html", "2021-09-16", "Baltic Courier"),
        # a JSON field (datePublished) and "source"
        ("meridian-2023.json", "meridian-2023.json#meridian-2023", "2023-09-14", "Atlantic Dispatch"),
        # Markdown front matter
        ("lanterns-2020.md", "lanterns-2020.md", "2020-02-08", "Coastal Times"),
        # a "Published:" line above a dateline without a year: the page's date
        ("lanterns-2022.txt", "lanterns-2022.txt", "2022-02-15", "Coastal Times"),
        # a dateline without a year and nothing else: month and day only, the year never guessed
        ("ferry-strike.txt", "ferry-strike.txt", "--03-03", "Harbour Wire"),
        # schema.org NewsArticle datePublished (not dateModified) in JSON-LD
        ("bridge-2024.html", "bridge-2024.html", "2024-05-06", "Harbour Post"),
        # no metadata: a date written in the text (museum founded 1987) is not taken for the publication date
        ("undated.html", "undated.html", None, None),
    ],
)
def test_publication_date_and_outlet_from_each_source(name, article_id, date, outlet):
    article = one(TIMELINE / name, TIMELINE)
    assert (article.id, article.date, article.outlet) == (article_id, date, outlet)


def test_json_date_fields_of_several_names_and_forms():
    parsed = parse_file(TIMELINE / "prizes.jsonl", TIMELINE)
    dates = {a.id.split("#")[1]: (a.date, a.outlet) for a in parsed.articles}
    assert dates == {
        # published_at 23:15 at UTC-4: the day where it was published, not the UTC day (the 21st)
        "prize-2022": ("2022-10-20", "Lit Review Daily"),  # publisher given as {"name": ...}
        "prize-2023": ("2023-10-19", "Lit Review Daily"),  # pubDate in RFC 2822 form
        "prize-undated": (None, None),  # "07/12/2023": July 12 or 7 December? not guessed
    }


def test_file_time_is_never_the_date(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("Council meeting moved\nThe council meeting has been moved to the town library this week.\n")
    os.utime(path, (1_600_000_000, 1_600_000_000))
    assert one(path, tmp_path).date is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2019-07-12", "2019-07-12"),
        ("2019-07-12T23:30:00-05:00", "2019-07-12"),
        ("2019-07-12T10:00:00Z", "2019-07-12"),
        ("2019/07/12", "2019-07-12"),
        ("July 12th, 2019", "2019-07-12"),
        ("12 July 2019", "2019-07-12"),
        ("Fri, 12 Jul 2019 10:00:00 +0000", "2019-07-12"),
        ("Oct. 22, 2020", "2020-10-22"),
        ("Sept. 3, 2020", "2020-09-03"),
        ("1562925600", "2019-07-12"),  # Unix seconds
        ("1562925600000", "2019-07-12"),  # Unix milliseconds
        ("07/12/2019", None),  # day and month order unknown
        ("2019-02-30", None),
        ("soon", None),
        ("", None),
        ("12345", None),
    ],
)
def test_parse_date_forms(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("month", range(1, 13))
def test_every_month_name_reads_as_its_month(month):
    name = date(2020, month, 1).strftime("%b")
    assert parse_date(f"{name} 5, 2020") == f"2020-{month:02d}-05"
    assert parse_date(f"5 {date(2020, month, 1).strftime('%B')} 2020") == f"2020-{month:02d}-05"
