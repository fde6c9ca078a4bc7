"""Dates: typed dates, datelines, the time a question asks about, how a passage fits it, relative dates."""

from __future__ import annotations

import calendar
import math
import re
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from qa.errors import QAError


class DateError(QAError):
    """A date the user typed cannot be read."""


MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
MONTH_RE = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"  # noqa: E501
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_RE = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"


def month_number(name: str) -> int:
    """1-12 for a month name or its abbreviation ("Sept.", "oct")."""
    return [m[:3] for m in MONTH_NAMES].index(name[:3].lower()) + 1


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


# Typed dates ------------------------------------------------------------------------------------------
ISO_PARTS = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?\s*$")
DATE_HELP = "write it as YYYY-MM-DD, YYYY-MM or YYYY (e.g. 2023-01-01)"


def parse_period(text: str) -> tuple[date, date]:
    """The first and last day a typed date stands for: "2023" is the year, "2023-06" June, "2023-06-05"
    that day; "June 2023" and "5 June 2023" are read too. DateError (one line) when it cannot be read."""
    value = text.strip()
    match = ISO_PARTS.match(value)
    try:
        if match:
            year, month, day = (int(g) if g else None for g in match.groups())
            assert year is not None
            if month is None:
                return date(year, 1, 1), date(year, 12, 31)
            if day is None:
                return date(year, month, 1), last_day(year, month)
            return date(year, month, day), date(year, month, day)
        return _parse_words(value)
    except ValueError as e:
        raise DateError(f"cannot read the date {value!r} ({e}): {DATE_HELP}") from None


def _parse_words(value: str) -> tuple[date, date]:
    """ "June 2023", "5 June 2023", "June 5, 2023" by dateutil; a part the text lacks is never filled in
    (two different defaults must give the same answer for a part to count as given)."""
    from dateutil import parser

    if not re.search(r"\d{4}", value):
        raise ValueError("no year")
    try:
        one = parser.parse(value, default=_DEFAULTS[0])
        two = parser.parse(value, default=_DEFAULTS[1])
    except (ValueError, OverflowError, parser.ParserError):
        raise ValueError("not a date") from None
    if one.year != two.year:
        raise ValueError("no year")
    if one.month != two.month:
        return date(one.year, 1, 1), date(one.year, 12, 31)
    if one.day != two.day:
        return date(one.year, one.month, 1), last_day(one.year, one.month)
    return one.date(), one.date()


_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 28))


def parse_date(text: str | None, end: bool = False) -> date | None:
    """A date typed by the user (`--since 2023-01-01`, `2023-01`, `2023`): the period's first day, or its
    last with `end` (so `--until 2023-06` keeps all of June). None for empty input; DateError if unreadable."""
    if text is None or not text.strip():
        return None
    first, last = parse_period(text)
    return last if end else first


# Datelines ----------------------------------------------------------------------------------------------
class Dateline(NamedTuple):
    place: str
    month: int | None
    day: int | None
    year: int | None
    outlet: str | None


# "BEIJING, Oct. 21 (Xinhua) --", "KAZAN, Russia, June 10, 2019 (Xinhua) -", "LONDON (Reuters) -"
DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'\- ]{1,40}(?:,\s*[A-Z][A-Za-z.'\- ]{1,30}){0,2}?)"
    rf"(?:,\s*(?P<month>{MONTH_RE})\s+(?P<day>\d{{1,2}})(?:,\s*(?P<year>\d{{4}}))?)?"
    r"\s*(?:\((?P<outlet>[^()\n]{1,40})\))?\s*(?:--|—|–|-|:)\s",
    re.I,
)


def find_dateline(line: str) -> Dateline | None:
    """The dateline opening an article's first paragraph, if it has one with a date or an agency."""
    match = DATELINE.match(line)
    if not match or not match.group("place").split(",")[0].isupper():
        return None  # the place is written in capitals: that is what tells a dateline from a sentence
    month = month_number(match.group("month")) if match.group("month") else None
    day = int(match.group("day")) if match.group("day") else None
    year = int(match.group("year")) if match.group("year") else None
    if month is None and not match.group("outlet"):
        return None
    if month is not None and day is not None:
        try:
            date(year or 2000, month, day)  # 2000: a leap year, so "Feb. 29" without a year passes
        except ValueError:
            return None
    return Dateline(match.group("place").strip(), month, day, year, match.group("outlet"))


def dateline_date(dateline: Dateline) -> str | None:
    """ISO "YYYY-MM-DD", or "--MM-DD" when the dateline gives no year: never a guessed year."""
    if dateline.month is None or dateline.day is None:
        return None
    if dateline.year is None:
        return f"--{dateline.month:02d}-{dateline.day:02d}"
    return f"{dateline.year:04d}-{dateline.month:02d}-{dateline.day:02d}"


# Article dates as stored ---------------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def article_ordinal(value: str | None) -> int | None:
    """date.toordinal() of a stored article date; None when absent or month-day only ("--MM-DD")."""
    if not value or value.startswith("--"):
        return None
    try:
        return date.fromisoformat(value[:10]).toordinal()
    except ValueError:
        return None


def after_as_of(article_date: str | None, as_of: date) -> bool:
    """True when the article is dated after `as_of`: it cannot answer a question asked on that date.
    Undated and month-day-only articles are not excluded (their date is unknown, not late)."""
    day = article_ordinal(article_date)
    return day is not None and day > as_of.toordinal()


# What a question asks about --------------------------------------------------------------------------------
class DateRange(NamedTuple):
    start: date
    end: date
    label: str  # the words of the question it came from
    slack: int  # days after `end` a report on it may still be dated (a report follows its event)


@dataclass(frozen=True)
class TimeScope:
    """What a question says about time, resolved against the date it is asked `as_of`."""

    as_of: date
    ranges: tuple[DateRange, ...] = ()  # explicit dates: a fitting passage lies in (or names) one of them
    relative: bool = False  # "next", "latest", "current", "this week"...: prefer the latest report <= as_of
    forward: bool = False  # "next", "upcoming", "will": asks about something still to come as of then
    words: tuple[str, ...] = ()  # the time words found, in order
    # precomputed for time_features, which runs per candidate: (first, last) years of every range, and
    # (first, last + slack) day ordinals of the ranges that have begun by as_of (a future date, "the 2030
    # World Cup", constrains what a sentence names, not when a report was written)
    range_years: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    past_days: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    month_words: re.Pattern[str] | None = field(default=None, compare=False)  # names of asked months/days

    @property
    def explicit(self) -> bool:
        return bool(self.ranges)


RELATIVE = re.compile(
    r"\b(next(?! to\b)|upcoming|latest|most recent|newest|current(?:ly)?|recent(?:ly)?|now|nowadays|"
    r"so far|to date|still|this (?:week|weekend|month|year|season)|ongoing|incoming|new(?=\s+(?:head|leader|"
    r"president|prime minister|ceo|chief|coach|champion|record|host)))\b",
    re.I,
)
Q_DAY = re.compile(
    rf"\b({MONTH_RE})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b"
    rf"|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTH_RE}),?\s+(\d{{4}})\b",
    re.I,
)
Q_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
Q_MONTH_YEAR = re.compile(rf"\b({MONTH_RE})(?:\s+of)?,?\s+(\d{{4}})\b", re.I)
Q_QUARTER = re.compile(
    r"\b(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th) quarter)(?:\s+of)?,?\s+(\d{4})\b", re.I
)
Q_DECADE = re.compile(r"\b(?:the\s+)?((?:1[89]|20)\d)0s\b", re.I)
YEAR = re.compile(r"(?<![\d,.$£€#])(1[89]\d\d|20\d\d)(?:[-/–](\d\d))?(?![\d%]|,\d|\.\d)")
Q_MONTH = re.compile(
    rf"\b(?:in|during|since|until|by|of|last|this|early|late|mid-?|through)\s+({MONTH_RE})(?![\w-])", re.I
)
Q_WEEKDAY = re.compile(rf"\b(last\s+|this\s+|next\s+|on\s+)?({WEEKDAY_RE})\b", re.I)
MONTH_OR_MONTH_WORD = re.compile(rf"\b(?:{MONTH_RE}|month)(?!\w)", re.I)
FORWARD = re.compile(r"\b(next(?! to\b)|upcoming|will|going to|scheduled|planned|due to|set to|future)\b", re.I)
Q_CALENDAR = re.compile(
    r"\b(today|tonight|yesterday|(?:this|last|past) (?:week|weekend|month|year)|"
    r"(?:earlier|later) this (?:week|month|year)|(\d+|a|one|two|three) (day|week|month|year)s? ago)\b",
    re.I,
)
QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3}


def time_scope(question: str, as_of: date) -> TimeScope:
    """The dates a question pins down (as ranges) and whether it is relative to the asking date."""
    ranges: list[DateRange] = []
    words: list[str] = []
    taken: list[tuple[int, int]] = []  # spans used by a more precise pattern, so "June 2019" is not also "2019"

    def add(match: re.Match[str], start: date, end: date, slack: int) -> None:
        if any(a < match.end() and match.start() < b for a, b in taken):
            return
        taken.append(match.span())
        ranges.append(DateRange(start, end, match.group(0), slack))
        words.append(match.group(0))

    for m in Q_ISO.finditer(question):
        with suppress(ValueError):  # an impossible date ("2021-02-30") pins nothing down
            day = date(int(m[1]), int(m[2]), int(m[3]))
            add(m, day, day, 7)
    for m in Q_DAY.finditer(question):
        if m.group(1) and m.group(1).lower() == "may" and not m.group(1)[0].isupper():
            continue  # "may 3" is not a month
        month = month_number(m.group(1) or m.group(5))
        year_text = m.group(3) or m.group(6)
        with suppress(ValueError):
            mday = int(m.group(2) or m.group(4))
            day = date(int(year_text), month, mday) if year_text else _nearest_day(month, mday, as_of)
            add(m, day, day, 7)
    for m in Q_MONTH_YEAR.finditer(question):
        if m.group(1).lower() == "may" and not m.group(1)[0].isupper():
            continue
        month, year = month_number(m.group(1)), int(m.group(2))
        add(m, date(year, month, 1), last_day(year, month), 14)
    for m in Q_QUARTER.finditer(question):
        q = int(m.group(1)) if m.group(1) else QUARTERS[m.group(2).lower()]
        year = int(m.group(3))
        add(m, date(year, 3 * q - 2, 1), last_day(year, 3 * q), 31)
    for m in Q_DECADE.finditer(question):
        first = int(m.group(1)) * 10
        add(m, date(first, 1, 1), date(first + 9, 12, 31), 31)
    for m in YEAR.finditer(question):
        first = int(m.group(1))
        last = first // 100 * 100 + int(m.group(2)) if m.group(2) else first  # "2022-23": a season
        if last < first or last - first > 1:
            last = first
        add(m, date(first, 1, 1), date(last, 12, 31), 31)
    for m in Q_MONTH.finditer(question):
        name = m.group(1)
        if name.lower().startswith("may") and not name[0].isupper():
            continue
        month = month_number(name)
        year = as_of.year if month <= as_of.month else as_of.year - 1  # the latest such month, as of then
        if m.group(0).lower().startswith("last") and month >= as_of.month:
            year = as_of.year - 1
        since = m.group(0).lower().startswith("since")
        add(m, date(year, month, 1), as_of if since else last_day(year, month), 14)
    for m in Q_CALENDAR.finditer(question):
        span = _calendar_span(m, as_of)
        if span:
            add(m, span[0], span[1], span[2])
    for m in Q_WEEKDAY.finditer(question):
        weekday = WEEKDAYS.index(m.group(2).lower())
        mod = (m.group(1) or "").strip().lower()
        if mod == "this":  # the one of the asking date's week, Monday to Sunday: "this Saturday" may be ahead
            day = as_of + timedelta(days=weekday - as_of.weekday())
        elif mod == "next":
            day = as_of + timedelta(days=(weekday - as_of.weekday() - 1) % 7 + 1)
        else:
            day = _weekday_before(weekday, as_of, strict=mod == "last")
        add(m, day, day, 7)
    relative = [m.group(0) for m in RELATIVE.finditer(question)]
    order = sorted(words + relative, key=lambda w: question.find(w))
    order = list(dict.fromkeys(order))  # "this week" is both a range and relative: list it once
    return make_scope(as_of, ranges, bool(relative), order, FORWARD.search(question) is not None)


def make_scope(
    as_of: date, ranges: list[DateRange], relative: bool, words: list[str] | None = None, forward: bool = False
) -> TimeScope:
    """A TimeScope with its lookup tables filled in (for callers building one without a question)."""
    years = tuple((r.start.year, r.end.year) for r in ranges)
    past = tuple((r.start.toordinal(), r.end.toordinal() + r.slack) for r in ranges if r.start <= as_of)
    # a range asked by its month ("in March", "on June 3", "last month") may be named by the month's name
    months = sorted(
        {
            r.start.month
            for r in ranges
            if (r.start.year, r.start.month) == (r.end.year, r.end.month) and MONTH_OR_MONTH_WORD.search(r.label)
        }
    )
    # "May" only capitalised: "may" is a verb
    names = [rf"(?i:{MONTH_NAMES[m - 1][:3]}(?:{MONTH_NAMES[m - 1][3:]}|\.)?)" if m != 5 else "May" for m in months]
    month_words = re.compile(rf"\b(?:{'|'.join(names)})\b") if months else None
    return TimeScope(as_of, tuple(ranges), relative, forward, tuple(words or ()), years, past, month_words)


def _nearest_day(month: int, day: int, as_of: date) -> date:
    """A "March 3" with no year: the occurrence nearest the asking date."""
    options = []
    for year in (as_of.year - 1, as_of.year, as_of.year + 1):
        try:
            options.append(date(year, month, day))
        except ValueError:
            continue
    if not options:
        raise ValueError("no such day")
    return min(options, key=lambda d: abs((d - as_of).days))


def _weekday_before(weekday: int, as_of: date, strict: bool = False) -> date:
    """The latest such weekday on or before as_of (strictly before with `strict`: "last Friday")."""
    back = (as_of.weekday() - weekday) % 7
    if strict and back == 0:
        back = 7
    return as_of - timedelta(days=back)


def _calendar_span(m: re.Match[str], as_of: date) -> tuple[date, date, int] | None:
    text = m.group(0).lower()
    if text in ("today", "tonight"):
        return as_of, as_of, 3
    if text == "yesterday":
        day = as_of - timedelta(days=1)
        return day, day, 3
    if m.group(2):  # "3 days ago"
        n = NUMBER_WORDS.get(m.group(2).lower()) or int(m.group(2))
        unit = m.group(3).lower()
        if unit == "day":
            day = as_of - timedelta(days=n)
            return day, day, 3
        if unit == "week":
            return as_of - timedelta(days=7 * n + 3), as_of - timedelta(days=7 * n - 3), 3
        if unit == "month":
            y, mo = divmod(as_of.year * 12 + as_of.month - 1 - n, 12)
            return date(y, mo + 1, 1), last_day(y, mo + 1), 14
        return date(as_of.year - n, 1, 1), date(as_of.year - n, 12, 31), 31
    unit = text.split()[-1]
    last = text.startswith(("last", "past"))
    if unit == "week":
        # a news week: the eight days up to the asking date (a weekly quiz asks at its end, about reports of
        # its week; news-quiz gold articles are all dated 0-7 days before the question)
        end = as_of - timedelta(days=7) if last else as_of
        return end - timedelta(days=7), end, 7
    if unit == "weekend":
        saturday = _weekday_before(5, as_of, strict=False) if not last else _weekday_before(5, as_of, strict=True)
        if text.startswith("this") and as_of.weekday() < 5:
            saturday = _weekday_before(5, as_of)  # asked midweek: the weekend just gone
        return saturday, saturday + timedelta(days=1), 3
    if unit == "month":
        if last:
            y, mo = divmod(as_of.year * 12 + as_of.month - 2, 12)
            return date(y, mo + 1, 1), last_day(y, mo + 1), 14
        return date(as_of.year, as_of.month, 1), last_day(as_of.year, as_of.month), 3
    year = as_of.year - 1 if last else as_of.year
    return date(year, 1, 1), date(year, 12, 31), 31


# Fit of a passage to the question's time ------------------------------------------------------------------------
class TimeFeatures(NamedTuple):
    after_as_of: bool  # the article is dated after as_of: it must not answer
    explicit: float  # 1 the article or the sentence is in an asked range, -1 both point elsewhere, 0 unknown
    recency: float  # relative questions: 1 on as_of, falling with log distance; 0 undated or not relative
    days_before: int | None  # as_of minus the article date in days (None: undated)
    forward: float  # "next"/"upcoming" questions: 1 the sentence names the as_of year or later, -1 only
    # earlier years (the "next" summit it announces has already happened), 0 no year or not forward


LOG_DECADE = math.log1p(3650)


def time_features(scope: TimeScope, article_date: str | None, sentence: str = "") -> TimeFeatures:
    """How an article's date and a sentence's own years fit what the question asks, as named features."""
    day = article_ordinal(article_date)
    as_of = scope.as_of.toordinal()
    days = None if day is None else as_of - day
    after = days is not None and days < 0
    recency = 0.0
    if scope.relative and days is not None and not after:
        recency = max(0.0, 1.0 - math.log1p(days) / LOG_DECADE)
    explicit = _explicit_fit(scope, day, sentence) if scope.ranges else 0.0
    forward = 0.0
    if scope.forward and sentence:
        years = sentence_years(sentence)
        if years:
            forward = 1.0 if max(last for _, last in years) >= scope.as_of.year else -1.0
    return TimeFeatures(after, explicit, recency, days, forward)


YEAR_HINT = re.compile(r"[12]\d\d\d")  # a cheap first look: most sentences name no year


@lru_cache(maxsize=32768)
def sentence_years(sentence: str) -> tuple[tuple[int, int], ...]:
    """The years (first, last) a sentence names: "2021" -> (2021, 2021), "the 2022-23 season" -> (2022, 2023)."""
    if not YEAR_HINT.search(sentence):
        return ()
    out = []
    for m in YEAR.finditer(sentence):
        first = int(m.group(1))
        last = first // 100 * 100 + int(m.group(2)) if m.group(2) else first
        out.append((first, last if 0 <= last - first <= 1 else first))
    return tuple(out)


def _explicit_fit(scope: TimeScope, day: int | None, sentence: str) -> float:
    years = sentence_years(sentence) if sentence else ()
    if years and any(a <= last and first <= b for first, last in years for a, b in scope.range_years):
        return 1.0  # the sentence names an asked year ("the 2021 summit was held in ...")
    if scope.month_words is not None and scope.month_words.search(sentence):
        return 1.0  # it names an asked month ("in March", "on June 3")
    if day is None or not scope.past_days:
        return -0.5 if years else 0.0  # undated, or only future dates asked: the sentence alone tells
    if any(a <= day <= b for a, b in scope.past_days):
        return -0.5 if years else 1.0  # dated in range, but a sentence about other years is not
    if years:
        return -1.0
    # A report dated after the asked time may well be about it (news-quiz: "the 2002 murder", "last week's
    # downing" are answered by that week's reports): mildly demoted. One dated before it cannot report it.
    return -0.25 if day > max(b for _, b in scope.past_days) else -0.75


def time_fit(scope: TimeScope, article_date: str | None, sentence: str = "") -> float:
    """One number for ranking, -1..1: -1 for an article after as_of; otherwise the mean of the explicit-date
    fit and the recency the question calls for (each only where the question has it), and of the forward
    fit where a "next"/"upcoming" question meets a sentence naming a year."""
    f = time_features(scope, article_date, sentence)
    if f.after_as_of:
        return -1.0
    parts = ([f.explicit] if scope.ranges else []) + ([f.recency] if scope.relative else [])
    parts += [f.forward] if scope.forward and f.forward else []
    return sum(parts) / len(parts) if parts else 0.0


# Relative dates inside articles --------------------------------------------------------------------------------
class Resolved(NamedTuple):
    start: int  # offsets of the words in the text
    end: int
    date: date  # the day, or the first day of the week/month/year meant
    precision: str  # "day", "week", "month" or "year"

    @property
    def label(self) -> str:
        """The date as "2019-07-19", "2019-08" or "2018", for "Friday (2019-07-19)" beside an extract."""
        if self.precision == "month":
            return self.date.strftime("%Y-%m")
        if self.precision == "year":
            return str(self.date.year)
        if self.precision == "week":
            return f"week of {self.date.isoformat()}"
        return self.date.isoformat()


IN_TEXT = re.compile(
    rf"\b(?:(?P<cal>yesterday|today|tonight|tomorrow)|(?P<mod>last|next|this|coming)\s+(?P<unit>week|month|year)"
    rf"|(?:earlier|later) this (?P<this>week|month|year)"
    rf"|(?P<n>\d+|a|one|two|three) (?P<nunit>day|week|month|year)s? ago"
    rf"|(?:(?P<wmod>last|next|this|coming|on)\s+)?(?P<wd>{WEEKDAY_RE})"
    rf"|(?P<mon>{MONTH_RE})\s+(?P<mday>\d{{1,2}})(?!\d|,?\s+\d{{4}}))\b",
    re.I,
)
FUTURE = re.compile(r"\b(will|'ll|shall|is to|are to|due|scheduled|set to|plans? to|expected|upcoming|next)\b", re.I)


def resolve_relative(text: str, article_date: str | date | None) -> list[Resolved]:
    """Relative dates in an article's text ("on Friday", "next month", "last year", "yesterday", "June 3")
    as the dates they meant when the article was written. Empty without a full article date."""
    if isinstance(article_date, date):
        base: date | None = article_date
    else:
        day = article_ordinal(article_date)
        base = date.fromordinal(day) if day is not None else None
    if base is None:
        return []
    out = []
    for m in IN_TEXT.finditer(text):
        if m.group("mon") and m.group("mon").lower() == "may" and not m.group("mon")[0].isupper():
            continue
        found = _resolve(m, base, text)
        if found is not None:
            out.append(Resolved(m.start(), m.end(), found[0], found[1]))
    return out


def _resolve(m: re.Match[str], base: date, text: str) -> tuple[date, str] | None:
    if m.group("cal"):
        shift = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}[m.group("cal").lower()]
        return base + timedelta(days=shift), "day"
    unit = (m.group("unit") or m.group("this") or "").lower()
    if unit:
        mod = (m.group("mod") or "this").lower()
        step = {"last": -1, "next": 1, "coming": 1}.get(mod, 0)
        if unit == "week":
            monday = base - timedelta(days=base.weekday()) + timedelta(weeks=step)
            return monday, "week"
        if unit == "month":
            y, mo = divmod(base.year * 12 + base.month - 1 + step, 12)
            return date(y, mo + 1, 1), "month"
        return date(base.year + step, 1, 1), "year"
    if m.group("nunit"):
        n = NUMBER_WORDS.get(m.group("n").lower()) or int(m.group("n"))
        nunit = m.group("nunit").lower()
        if nunit == "day":
            return base - timedelta(days=n), "day"
        if nunit == "week":
            return base - timedelta(weeks=n), "day"
        if nunit == "month":
            y, mo = divmod(base.year * 12 + base.month - 1 - n, 12)
            return date(y, mo + 1, 1), "month"
        return date(base.year - n, 1, 1), "year"
    if m.group("wd"):
        weekday = WEEKDAYS.index(m.group("wd").lower())
        mod = (m.group("wmod") or "").lower()
        clause = text[max(0, m.start() - 80) : m.start()]
        clause = re.split(r"[.!?;]\s", clause)[-1]
        future = mod in ("next", "coming") or (mod != "last" and FUTURE.search(clause) is not None)
        if future:  # the next such day after the article's date ("will open on Friday")
            return base + timedelta(days=(weekday - base.weekday() - 1) % 7 + 1), "day"
        back = (base.weekday() - weekday) % 7  # news reports mostly the week just gone, the same day included
        if mod == "last" and back == 0:
            back = 7
        return base - timedelta(days=back), "day"
    try:
        return _nearest_day(month_number(m.group("mon")), int(m.group("mday")), base), "day"
    except ValueError:
        return None


def annotate_relative(text: str, article_date: str | date | None) -> str:
    """The text with each relative date followed by what it meant: "opens on Friday (2019-07-19)"."""
    out = []
    last = 0
    for found in resolve_relative(text, article_date):
        out.append(f"{text[last : found.end]} ({found.label})")
        last = found.end
    return "".join(out) + text[last:]
