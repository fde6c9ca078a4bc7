"""Time-aware answers end to end (real model, real index): as-of, time words, filters, the timeline, JSON."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from qa.filters import Filters
from qa.retrieve import Retriever

from .conftest import DATA

TIMELINE = DATA / "timeline"
NEXT = "Where will the next Meridian Ocean Summit be held?"


@pytest.fixture(scope="session")
def timeline_index(tmp_path_factory, embedder) -> Path:
    from qa.sync import Indexer

    folder = tmp_path_factory.mktemp("timeline-index")
    Indexer(TIMELINE, folder, embedder).run()
    return folder


@pytest.fixture(scope="session")
def library(timeline_index, embedder):
    from qa.config import Settings
    from qa.service import Library

    return Library(Settings.from_options(TIMELINE, timeline_index), embedder)


@pytest.mark.parametrize(
    "as_of, article",
    [
        (date(2026, 12, 1), "meridian-2023.json"),  # the latest report: Cork is next
        (date(2022, 1, 1), "meridian-2021.html"),  # Porto, announced in 2021
        (date(2020, 1, 1), "meridian-2019.txt"),  # Tallinn, announced in 2019
    ],
)
def test_next_means_the_latest_report_before_the_as_of_date(library, as_of, article):
    hits = library.retriever().search(NEXT, k=3, as_of=as_of)
    assert hits[0].path == article
    assert all(h.date is None or h.date.startswith("--") or h.date <= as_of.isoformat() for h in hits)


@pytest.mark.parametrize(
    "as_of, host", [(date(2026, 12, 1), "Cork"), (date(2022, 1, 1), "Porto"), (date(2020, 1, 1), "Tallinn")]
)
def test_the_answer_names_the_next_host_as_of_the_date(library, as_of, host):
    result = library.ask(NEXT, sync=False, as_of=as_of)
    assert result.answered and host in (result.text or "")


def test_an_explicit_year_prefers_that_years_report(library):
    hits = library.retriever().search("Where was the Meridian Ocean Summit held in 2021?", k=3, as_of=date(2026, 12, 1))
    assert hits[0].path == "meridian-2021.html"


@pytest.mark.parametrize(
    "year, article, host",
    [
        ("2019", "meridian-2019.txt", "Valletta"),
        ("2021", "meridian-2021.html", "Riga"),
        ("2023", "meridian-2023.json", "Bergen"),
    ],
)
def test_a_question_naming_a_year_is_answered_from_that_years_report(library, year, article, host):
    # asked today: a newer report of the summit (or an unrelated article of that year) must not make the
    # asked year's report look old, nor win in its place
    result = library.ask(f"Where was the Meridian Ocean Summit held in {year}?", sync=False, as_of=date(2026, 12, 1))
    assert result.answered and result.citation is not None
    assert result.citation.path == article and host in (result.text or "")


def test_an_article_after_the_as_of_date_never_answers(library):
    for question in (NEXT, "Which city hosted the Meridian Ocean Summit?", "Who won the Estuary Prize?"):
        result = library.ask(question, sync=False, as_of=date(2021, 1, 1), k=10)
        dates = [h.date for h in result.hits] + ([result.citation.date] if result.citation else [])
        assert all(d is None or d.startswith("--") or d <= "2021-01-01" for d in dates), dates


def test_no_date_mask_when_no_article_is_dated_after_the_as_of_date(timeline_index, embedder):
    from qa.retrieve import Retriever

    retriever = Retriever(timeline_index, embedder)
    try:
        assert not retriever.dated_after(date(2026, 12, 1)) and retriever.dated_after(date(2020, 1, 1))
        retriever.search(NEXT, k=3, as_of=date(2026, 12, 1))
        assert retriever._facets is None  # today's question needs no per-chunk dates loaded
        hits = retriever.search(NEXT, k=10, as_of=date(2020, 1, 1))
        assert retriever._facets is not None and all(h.date is None or h.date <= "2020-01-01" for h in hits)
    finally:
        retriever.close()


def test_filters_keep_every_hit_inside_the_range_and_outlets(library):
    retriever: Retriever = library.retriever()
    inside = Filters(since=date(2021, 1, 1), until=date(2022, 12, 31))
    hits = retriever.search("summit festival prize", k=10, filters=inside)
    assert hits and all("2021-01-01" <= (h.date or "") <= "2022-12-31" for h in hits)
    outlets = {h.outlet for h in retriever.search("summit", k=10)}
    assert len(outlets) > 2
    one = sorted(o for o in outlets if o)[0]
    hits = retriever.search("summit", k=10, filters=Filters(outlets=(one.lower(),)))
    assert hits and {h.outlet for h in hits} == {one}
    assert retriever.search("summit", k=5, filters=Filters(since=date(2030, 1, 1))) == []


def test_status_counts_the_articles_without_a_date(library):
    status = library.status()
    # undated.html has no date, ferry-strike.txt only a month and day, one prize record an ambiguous one
    assert status.undated == 3 and status.articles == 11


def test_json_carries_as_of_filters_dates_and_outlets(library):
    result = library.ask(NEXT, sync=False, as_of=date(2022, 1, 1), filters=Filters(since=date(2019, 1, 1)))
    data = result.to_dict()
    assert data["as_of"] == "2022-01-01" and data["filters"]["since"] == "2019-01-01"
    assert {"date", "outlet"} <= set(data["hits"][0])
    assert data["hits"][0]["date"] == "2021-09-16" and data["hits"][0]["outlet"]


def test_timeline_lists_the_evidence_oldest_first(library):
    evidence = library.timeline("Meridian Ocean Summit host city", as_of=date(2026, 12, 1))
    dated = [e.date for e in evidence if e.date and not e.date.startswith("--")]
    assert dated == sorted(dated) and len(dated) >= 3
    assert {"meridian-2019.txt", "meridian-2021.html", "meridian-2023.json"} <= {e.path for e in evidence}
    assert all(e.text and e.text in library.article(e.article_id).text for e in evidence)


def test_cli_time_options_and_a_bad_date(capsys, library, timeline_index):
    from qa.cli import main, warn
    from qa.service import Library

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(
                ["ask", *args, "--corpus", str(TIMELINE), "--index", str(timeline_index)],
                library=lambda s: Library(s, library.embedder, warn),
            )
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = run(NEXT, "--timeline", "--as-of", "2022-01-01")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line[:4].isdigit()]
    assert lines == sorted(lines) and not any(line.startswith("2023") for line in lines)
    code, _, err = run(NEXT, "--since", "2023-13-01")
    assert code == 1 and "cannot read the date" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(NEXT, "--since", "2023", "--until", "2022")
    assert code == 1 and "nothing can match" in err
