"""Typed dates, datelines, time words resolved against the asking date, time fit, relative dates, filters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from qa.dates import (
    DateError,
    after_as_of,
    annotate_relative,
    find_dateline,
    parse_date,
    parse_period,
    resolve_relative,
    time_features,
    time_fit,
    time_scope,
)
from qa.errors import QAError
from qa.filters import (
    ChunkFacets,
    Filters,
    bm25_allowed_mask,
    bm25_search_filtered,
    bm25_weight_mask,
    dense_search_filtered,
    outlet_matches,
    parse_filter_words,
)
from qa.ingest import Article, parse_file

from .conftest import DATA

TIMELINE = DATA / "timeline"
D = date.fromisoformat


# Typed dates ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, first, last",
    [
        ("2023-01-01", "2023-01-01", "2023-01-01"),
        ("2023-01", "2023-01-01", "2023-01-31"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2023", "2023-01-01", "2023-12-31"),
        (" 2023/6/5 ", "2023-06-05", "2023-06-05"),
        ("June 2023", "2023-06-01", "2023-06-30"),
        ("5 June 2023", "2023-06-05", "2023-06-05"),
        ("June 5, 2023", "2023-06-05", "2023-06-05"),
    ],
)
def test_parse_typed_dates(text, first, last):
    assert parse_period(text) == (D(first), D(last))
    assert parse_date(text) == D(first)
    assert parse_date(text, end=True) == D(last)


def test_empty_typed_date_is_none():
    assert parse_date("") is None and parse_date(None) is None and parse_date("  ") is None


@pytest.mark.parametrize("text", ["2023-13-01", "2023-02-30", "June", "next tuesday", "20233", "12/05"])
def test_unreadable_typed_date_is_a_one_line_error(text):
    with pytest.raises(DateError) as caught:
        parse_date(text)
    message = str(caught.value)
    assert isinstance(caught.value, QAError)
    assert "\n" not in message and repr(text.strip()) in message and "YYYY-MM-DD" in message


# Datelines --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line, expected",
    [
        ("BEIJING, Oct. 21 (Xinhua) -- China and Russia will", ("BEIJING", 10, 21, None, "Xinhua")),
        ("KAZAN, June 10, 2019 (Xinhua) -- A forum opened", ("KAZAN", 6, 10, 2019, "Xinhua")),
        ("KAZAN, Russia, June 10, 2019 (Xinhua) -- A forum", ("KAZAN, Russia", 6, 10, 2019, "Xinhua")),
        ("LONDON (Reuters) - Shares fell", ("LONDON", None, None, None, "Reuters")),
        ("NEW YORK, Sept. 3 — The city said", ("NEW YORK", 9, 3, None, None)),
        ("The mayor said on Friday - in a statement", None),  # no capitals: a sentence, not a place
        ("PARIS, Feb. 30 (AFP) -- x", None),  # no such day
        ("PARIS -- The city", None),  # neither a date nor an agency
    ],
)
def test_datelines(line, expected):
    found = find_dateline(line)
    assert (tuple(found) if found else None) == expected


# Time words in questions, resolved against the asking date ----------------------------------------------------------
AS_OF = D("2022-03-10")  # a Thursday


@pytest.mark.parametrize(
    "question, ranges, relative",
    [
        ("Where will the next summit be held?", [], True),
        ("What is the upcoming election date?", [], True),
        ("Who is the latest winner?", [], True),
        ("What was the most recent figure?", [], True),
        ("Who is the current champion?", [], True),
        ("Who recently resigned?", [], True),
        ("Who sits next to the president?", [], False),  # "next to" is a place, not a time
        ("What happened this week?", [("2022-03-03", "2022-03-10")], True),
        ("What happened last week?", [("2022-02-24", "2022-03-03")], False),
        ("What did sales do this month?", [("2022-03-01", "2022-03-31")], True),
        ("What did sales do last month?", [("2022-02-01", "2022-02-28")], False),
        ("Who won this year?", [("2022-01-01", "2022-12-31")], True),
        ("Who won last year?", [("2021-01-01", "2021-12-31")], False),
        ("What happened yesterday?", [("2022-03-09", "2022-03-09")], False),
        ("What was announced on Tuesday?", [("2022-03-08", "2022-03-08")], False),
        ("What was announced last Thursday?", [("2022-03-03", "2022-03-03")], False),
        ("Where was the summit held in 2021?", [("2021-01-01", "2021-12-31")], False),
        ("What happened in June 2019?", [("2019-06-01", "2019-06-30")], False),
        ("What were sales in Q1 2021?", [("2021-01-01", "2021-03-31")], False),
        ("What were sales in the third quarter of 2020?", [("2020-07-01", "2020-09-30")], False),
        ("What happened on March 3, 2020?", [("2020-03-03", "2020-03-03")], False),
        ("What happened on 2020-03-03?", [("2020-03-03", "2020-03-03")], False),
        ("What happened in June?", [("2021-06-01", "2021-06-30")], False),  # the latest June by then
        ("Who marches this Saturday?", [("2022-03-12", "2022-03-12")], False),  # ahead, in the same week
        ("Who speaks next Monday?", [("2022-03-14", "2022-03-14")], True),
        ("Who won the 2022-23 season?", [("2022-01-01", "2023-12-31")], False),
        ("What happened in the 1990s?", [("1990-01-01", "1999-12-31")], False),
        ("Who may win the 2,000 metres?", [], False),  # "may" is a verb, 2,000 a number
    ],
)
def test_time_words_resolved_against_as_of(question, ranges, relative):
    scope = time_scope(question, AS_OF)
    assert [(r.start.isoformat(), r.end.isoformat()) for r in scope.ranges] == [tuple(r) for r in ranges]
    assert scope.relative is relative
    assert scope.as_of == AS_OF


def test_articles_after_as_of_do_not_answer():
    assert after_as_of("2022-03-11", AS_OF)
    assert not after_as_of("2022-03-10", AS_OF) and not after_as_of("2019-01-01", AS_OF)
    assert not after_as_of(None, AS_OF) and not after_as_of("--12-31", AS_OF)  # unknown is not late
    scope = time_scope("Who is the current champion?", AS_OF)
    assert time_fit(scope, "2022-03-11", "The champion is X.") == -1.0
    assert time_features(scope, "2022-03-11").after_as_of


def test_recency_prefers_the_latest_report_before_as_of():
    scope = time_scope("Who is the current champion?", AS_OF)
    fits = [time_fit(scope, d) for d in ("2022-03-10", "2022-03-01", "2021-03-10", "2015-01-01")]
    assert fits == sorted(fits, reverse=True) and fits[0] == 1.0 and fits[-1] > 0
    assert time_fit(scope, None) == 0.0 and time_fit(time_scope("Who is champion?", AS_OF), "2022-03-10") == 0.0


def test_explicit_year_fit_by_article_date_and_by_the_sentence_own_years():
    scope = time_scope("Where was the summit held in 2021?", D("2024-01-01"))
    assert time_fit(scope, "2021-09-16", "The summit was held in Riga.") == 1.0
    assert time_fit(scope, "2022-01-10", "The summit was held in Riga.") == 1.0  # a report soon after
    assert time_fit(scope, "2023-09-14", "The 2021 summit was held in Riga.") == 1.0  # names the year
    # a later report may be about it (a mild demotion); an earlier one cannot be
    assert time_fit(scope, "2023-09-14", "This year's summit was held in Bergen.") == -0.25
    assert time_fit(scope, "2019-09-12", "This year's summit was held in Valletta.") == -0.75
    assert time_fit(scope, "2023-09-14", "The 2019 summit was held in Valletta.") == -1.0  # contradicts
    assert time_fit(scope, "2021-09-16", "The 2019 summit was held in Valletta.") == -0.5
    assert time_fit(scope, None, "The summit was held in Riga.") == 0.0
    # a month named in the sentence fits a question about that month, whenever the report was written
    march = time_scope("How much did prices rise in March?", D("2020-05-15"))
    assert time_fit(march, "2020-05-15", "Prices rose 3% in March, the office said.") == 1.0
    assert time_fit(march, "2020-03-20", "Prices rose 3%, the office said.") == 1.0
    assert time_fit(march, "2020-05-15", "Prices rose 3%, the office said.") == -0.25
    may = time_scope("What happened in May?", D("2020-07-15"))
    assert time_fit(may, "2020-07-15", "Rates rose in May.") == 1.0
    assert time_fit(may, "2020-07-15", "Rates may rise.") == -0.25  # the verb
    monday = time_scope("What happened on Monday?", D("2020-07-15"))
    assert time_fit(monday, "2020-03-15", "It happened in July.") == -0.75  # the month was not what was asked
    # a future year constrains what a sentence names, not when its report was written
    future = time_scope("Who will host the 2030 World Cup?", AS_OF)
    assert time_fit(future, "2022-03-01", "Spain will host the 2030 World Cup.") == 1.0
    assert time_fit(future, "2022-03-01", "Spain will host the tournament.") == 0.0


def test_forward_questions_prefer_sentences_naming_a_year_still_to_come():
    scope = time_scope("Where will the next summit be held?", D("2022-01-01"))
    assert scope.forward and scope.relative
    assert time_features(scope, "2021-09-16", "Porto will host the next summit in 2022.").forward == 1.0
    assert time_features(scope, "2019-09-12", "Tallinn will host the next summit in 2020.").forward == -1.0
    assert time_features(scope, "2021-09-16", "Porto will host the next summit.").forward == 0.0
    assert time_fit(scope, "2021-09-16", "Porto will host it in 2022.") > time_fit(scope, "2021-09-16", "Porto.")
    assert not time_scope("Where was the summit held?", D("2022-01-01")).forward


# The summit corpus: which report answers, as of which date ---------------------------------------------------------
def timeline_articles() -> list[Article]:
    out = []
    for path in sorted(TIMELINE.iterdir()):
        out.extend(parse_file(path, TIMELINE).articles)
    return out


def best_sentence(question: str, as_of: date, contains: str) -> str:
    """The summit sentence containing `contains` that fits the question's time best, among reports dated
    on or before as_of: what the ranker gets from time_fit when meaning and words tie."""
    scope = time_scope(question, as_of)
    candidates = [
        (time_fit(scope, a.date, line), line)
        for a in timeline_articles()
        if "Meridian" in a.text and not after_as_of(a.date, as_of)
        for line in a.text.split("\n")
        if contains in line
    ]
    return max(candidates)[1]


@pytest.mark.parametrize(
    "as_of, host",
    [(date.today(), "Cork"), (D("2022-01-01"), "Porto"), (D("2020-01-01"), "Tallinn")],
)
def test_next_host_as_of_a_date(as_of, host):
    assert host in best_sentence("Where will the next summit be held?", as_of, "next summit")


def test_summit_held_in_a_year():
    assert "Riga" in best_sentence("Where was the summit held in 2021?", date.today(), "held in")


# Relative dates inside articles ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, label",
    [
        ("The bridge will open on Friday.", "2019-07-19"),  # future: the next Friday
        ("The minister said on Friday that", "2019-07-12"),  # the article's own day
        ("Talks broke down on Monday.", "2019-07-08"),
        ("Talks broke down last Friday.", "2019-07-05"),
        ("The vote is due next Tuesday.", "2019-07-16"),
        ("It rained yesterday.", "2019-07-11"),
        ("It opens tomorrow.", "2019-07-13"),
        ("Prices rose last month.", "2019-06"),
        ("The plan starts next month.", "2019-08"),
        ("Sales fell last year.", "2018"),
        ("Talks resume next week.", "week of 2019-07-15"),
        ("He left two days ago.", "2019-07-10"),
        ("The deal was signed on June 3 in Oslo.", "2019-06-03"),
    ],
)
def test_relative_dates_resolved_against_article_date(text, label):
    found = resolve_relative(text, "2019-07-12")  # a Friday
    assert len(found) == 1
    assert found[0].label == label
    start, end = found[0].start, found[0].end
    assert text[start:end].lower().split()[-1] in text.lower()


def test_relative_dates_annotated_for_the_answer_card():
    text = "The bridge will open on Friday, a year after work began last July and two days ago."
    assert annotate_relative(text, "2019-07-12") == (
        "The bridge will open on Friday (2019-07-19), a year after work began last July and two days ago (2019-07-10)."
    )
    assert annotate_relative(text, None) == text


def test_relative_dates_need_a_full_article_date():
    assert resolve_relative("It rained yesterday.", None) == []
    assert resolve_relative("It rained yesterday.", "--03-03") == []
    assert resolve_relative("It rained yesterday.", D("2019-07-12"))[0].date == D("2019-07-11")


def test_relative_dates_in_a_timeline_article():
    article = parse_file(TIMELINE / "meridian-2019.txt", TIMELINE).articles[0]
    labels = {article.text[r.start : r.end]: r.label for r in resolve_relative(article.text, article.date)}
    assert labels["on Thursday"] == "2019-09-12" and labels["next month"] == "2019-10"


# Filters typed in the question --------------------------------------------------------------------------------------
def test_filter_words_are_split_off_the_question():
    question, filters = parse_filter_words("since:2023-01-01 Who won? outlet:Xinhua until:2023-06")
    assert question == "Who won?"
    assert filters == Filters(D("2023-01-01"), D("2023-06-30"), ("Xinhua",))
    assert filters.active and filters.to_dict() == {"since": "2023-01-01", "until": "2023-06-30", "outlets": ["Xinhua"]}


def test_filter_words_quoted_outlets_as_of_and_words_left_alone():
    question, filters = parse_filter_words('outlet:"Baltic Courier" outlet:AP as-of:2022 Who met at 10:30? note:x')
    assert question == "Who met at 10:30? note:x"
    assert filters.outlets == ("Baltic Courier", "AP") and filters.as_of == D("2022-12-31")
    assert not filters.since and not filters.until
    assert parse_filter_words("Who won? outlet:Xinhua,Reuters")[1].outlets == ("Xinhua", "Reuters")
    assert parse_filter_words('outlet:"Reuters, London" x')[1].outlets == ("Reuters, London",)
    assert parse_filter_words("Who won?") == ("Who won?", Filters())
    assert not Filters().active


@pytest.mark.parametrize(
    "typed, message",
    [
        ("since:2023-13-01 x", "cannot read the date '2023-13-01'"),
        ("until:soon x", "cannot read the date 'soon'"),
        ("since:2024 until:2023 x", "is after until:"),
        ('outlet:"" x', "outlet: needs a name"),
    ],
)
def test_bad_filter_words_are_one_line_errors(typed, message):
    with pytest.raises(DateError, match=message) as caught:
        parse_filter_words(typed)
    assert "\n" not in str(caught.value)


def test_outlet_matching_is_by_whole_words():
    assert outlet_matches("Xinhua News Agency", ("xinhua",))
    assert outlet_matches("Baltic Courier", ("baltic courier",))
    assert not outlet_matches("Japan Today", ("AP",)) and not outlet_matches(None, ("AP",))


# Filters in the retriever ---------------------------------------------------------------------------------------
@pytest.fixture
def facets(tmp_path: Path) -> ChunkFacets:
    """A real catalogue holding the timeline corpus, one chunk per line; one article also stored as a
    syndicated copy under another outlet."""
    from qa.store import ArticleRow, Catalog

    catalog = Catalog(tmp_path, create=True)
    vector = np.zeros(4, dtype=np.float32)
    with catalog.transaction():
        for a in timeline_articles():
            catalog.put_article(ArticleRow(a.id, a.path, a.title, a.date, a.outlet, a.url, a.text), a.hash)
            catalog.put_chunks(a.id, [(0, len(line), line, line, vector) for line in a.text.split("\n")])
        copy = ArticleRow("copy.txt", "copy.txt", "c", "2021-09-17", "Nordic Digest", None, "x", "meridian-2021.html")
        catalog.put_article(copy, "h")
    loaded = ChunkFacets.load(catalog.db)
    catalog.close()
    return loaded


def chunk_articles(facets: ChunkFacets, ids: np.ndarray) -> set[str]:
    names = sorted({a.id for a in timeline_articles()})
    return {names[i] for i in facets.chunk_article[np.searchsorted(facets.chunk_ids, ids)]}


def test_date_and_outlet_filters_alone_and_combined(facets):
    def kept(**kw):
        return chunk_articles(facets, facets.allowed(Filters(**kw)))

    everything = {a.id for a in timeline_articles()}
    assert kept() == everything
    assert kept(since=D("2022-01-01")) == {
        "meridian-2023.json#meridian-2023",
        "lanterns-2022.txt",
        "bridge-2024.html",
        "prizes.jsonl#prize-2022",
        "prizes.jsonl#prize-2023",
    }
    assert kept(until=D("2020-12-31")) == {"meridian-2019.txt", "lanterns-2020.md"}  # undated ones never match
    assert kept(outlets=("harbour wire",)) == {"meridian-2019.txt", "ferry-strike.txt"}
    assert kept(outlets=("Nordic Digest",)) == {"meridian-2021.html"}  # through its syndicated copy
    assert kept(since=D("2020-01-01"), until=D("2022-12-31"), outlets=("Coastal Times", "Lit Review Daily")) == {
        "lanterns-2020.md",
        "lanterns-2022.txt",
        "prizes.jsonl#prize-2022",
    }
    assert kept(outlets=("Nobody",)) == set()
    ids = facets.allowed(Filters(since=D("2022-01-01")))
    assert ids.dtype == np.int64 and np.all(np.diff(ids) > 0)
    # the same as flags over another index's documents, in its order or in the facets' own
    since = Filters(since=D("2022-01-01"))
    assert np.array_equal(facets.chunk_ids[facets.mask_for(facets.chunk_ids, since)], ids)
    shuffled = facets.chunk_ids[::-1].copy()
    assert np.array_equal(np.sort(shuffled[facets.mask_for(shuffled, since)]), ids)


def random_index(n: int = 2000, dim: int = 16, seed: int = 0):  # type: ignore[no-untyped-def]
    import faiss

    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64) * 3 + 5  # catalogue ids are not row numbers
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    index.add_with_ids(vectors, ids)
    return index, ids, vectors, rng


def test_filtered_dense_search_returns_exactly_k_allowed_ids_best_first():
    index, ids, vectors, rng = random_index()
    allowed = np.sort(rng.choice(ids, 200, replace=False))
    query = vectors[7]
    found = dense_search_filtered(index, query, 10, allowed)
    scores = vectors[np.searchsorted(ids, allowed)] @ query
    assert [i for i, _ in found] == allowed[np.argsort(-scores)[:10]].tolist()
    assert len(dense_search_filtered(index, query, 500, allowed)) == 200  # all there are
    assert dense_search_filtered(index, query, 10, np.zeros(0, dtype=np.int64)) == []


def test_filtered_dense_search_on_ivf_widens_the_probe_until_k_are_found():
    from qa.ivf import build_ivf

    _, ids, vectors, rng = random_index(n=4000)
    ivf, _choice = build_ivf(ids, vectors, vectors.shape[1])
    ivf.nprobe = 1  # one list holds only a few of 40 allowed ids
    allowed = np.sort(rng.choice(ids, 40, replace=False))
    found = dense_search_filtered(ivf, vectors[0], 25, allowed)
    assert len(found) == 25 and set(i for i, _ in found) <= set(allowed.tolist())
    assert ivf.nprobe == 1  # the index's own setting is left alone


def test_filtered_bm25_returns_exactly_k_allowed_ids_with_the_unfiltered_scores():
    from qa.lexical import Lexical

    words = [f"w{i}" for i in range(50)]
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(words, 12)) for _ in range(600)]
    ids = np.arange(600, dtype=np.int64) * 2 + 1
    lexical = Lexical.build(ids.tolist(), texts)
    allowed = np.sort(rng.choice(ids, 120, replace=False))
    found = bm25_search_filtered(lexical, "w1 w2 w3 w3", 20, allowed)
    assert len(found) == 20 and {i for i, _ in found} <= set(allowed.tolist())
    # the same as searching everything and keeping the allowed: same scores, same ids above the 20th score
    everything = [(i, s) for i, s in lexical.search("w1 w2 w3 w3", 600) if i in set(allowed.tolist())][:20]
    assert np.allclose([s for _, s in found], [s for _, s in everything], rtol=1e-5)
    cut = found[-1][1] + 1e-4
    assert {i for i, s in found if s > cut} == {i for i, s in everything if s > cut}
    assert bm25_allowed_mask(ids, allowed).sum() == 120 and bm25_weight_mask(ids, allowed).dtype == np.float32
    assert bm25_search_filtered(lexical, "w1", 20, np.zeros(0, dtype=np.int64)) == []
    assert bm25_search_filtered(lexical, "unknownword", 20, allowed) == []
