"""The values a sentence states, typed and normalised: counts and amounts (with "more than", "about"),
money, durations, dates and their parts, names of people, places, venues and organisations; whether two
sentences' values agree; and how a value is written in a sentence and shown to the user."""

from __future__ import annotations

import re
from typing import Any

# A value is (granularity, normalised value): two extracts can only disagree on a granularity both give
# ("Monday" says nothing against "Oct. 21"), and agree when any granularity they share agrees.
Value = tuple[str, Any]

NUMBER_KINDS = ("number", "money", "duration")
DATE_KINDS = ("date", "day", "month", "year", "weekday")
NAME_KINDS = ("person", "place", "venue", "organization")


# --- numbers ----------------------------------------------------------------------------------------
SMALL = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split()
    )
}
TENS = {w: 10 * n for n, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if n > 1}
SCALE = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "dozen": 12.0}
_WORD = "|".join(sorted([*SMALL, *TENS], key=len, reverse=True))
NUMBER = re.compile(
    rf"(?<![\w.,-])(?:(?P<digits>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    rf"|(?P<words>(?:{_WORD})(?:[- ](?:{_WORD}))?))"
    rf"(?:\s*(?P<scale>hundred|thousand|million|billion|trillion|dozen)s?)?(?!\w)(?!-(?!dollar|year|day)\w)",
    re.I,
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
MONTH = re.compile(rf"\b({_MONTHS})\b\.?", re.I)
MONTH_NAMES = "January February March April May June July August September October November December".split()
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b", re.I)
# A dateline ("BEIJING, Oct. 21 (Xinhua) --", "MILLBROOK, Ohio (AP) —") says where and when the outlet
# filed, not the answer: two outlets filing from other cities must not look like a conflict.
DATELINE = re.compile(
    r"^[A-Z][A-Z .'-]{2,}(?:, [A-Z][\w.]*(?: [A-Z]?[\w.]+)?)?(?:, [\w. ]{3,20})?\s*(?:\([\w ]+\))?\s*[-—–]+\s*"
)
ISO_DATE = re.compile(r"\b(\d{4})-(\d\d)-(\d\d)\b")
MONTH_DAY = re.compile(rf"\b({_MONTHS})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I)
DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTHS})\b\.?(?:,?\s+(\d{{4}}))?", re.I)
YEAR = re.compile(r"(?<![\d,.])(1[89]\d\d|20\d\d)(?!\d|,\d)")
TIME = re.compile(r"\b\d{1,2}(?::\d\d)+\b|\b\d{1,2}(?:\.\d\d)?\s*[ap]\.?m\b\.?", re.I)
CLOCK = re.compile(r"\b(\d{1,2}):(\d\d):(\d\d)\b")  # a race time 2:05:41
UNIT_SECONDS = {
    "second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800, "month": 2629800, "year": 31557600,
    "decade": 315576000,
}  # fmt: skip
DURATION = re.compile(
    r"(?P<n>[\w.,]+(?:[- ]\w+)?)[ -](?P<unit>second|minute|hour|day|week|month|year|decade)s?\b", re.I
)
CURRENCY = {
    "$": "USD", "dollar": "USD", "usd": "USD", "€": "EUR", "euro": "EUR", "eur": "EUR", "£": "GBP", "pound": "GBP",
    "¥": "CNY", "yuan": "CNY", "renminbi": "CNY", "rmb": "CNY", "cny": "CNY", "yen": "JPY", "ruble": "RUB",
    "rouble": "RUB", "rupee": "INR",
}  # fmt: skip
_CUR = r"[$€£¥]|\b(?:dollar|usd|euro|eur|pound|yuan|renminbi|rmb|cny|yen|ruble|rouble|rupee)s?\b"
MONEY_BEFORE = re.compile(rf"(?P<cur>{_CUR})\s?(?P<num>\d[\d,.]*(?:\s*(?:thousand|million|billion|trillion))?)", re.I)
MONEY_AFTER = re.compile(
    rf"(?P<num>\d[\d,.]*(?:\s*(?:thousand|million|billion|trillion))?|[a-z]+(?:[- ][a-z]+)?)[ -](?P<cur>{_CUR})", re.I
)


def parse_number(text: str) -> float | None:
    """40, "forty", "forty-five", "1,200", "1.2 million", "3.1" -> float; None when it is not a number."""
    m = NUMBER.fullmatch(text.strip())
    return _number(m) if m else None


def _number(m: re.Match[str]) -> float | None:
    if m.group("digits"):
        value = float(m.group("digits").replace(",", ""))
    else:
        parts = re.split(r"[- ]", m.group("words").lower())
        value = 0.0
        for p in parts:
            if p in TENS:
                value += TENS[p]
            elif p in SMALL:
                value += SMALL[p]
            else:
                return None
    if m.group("scale"):
        value *= SCALE[m.group("scale").lower()]
    return value


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    """The text with the pattern's matches replaced by spaces (offsets kept), so they are not read twice."""
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _show(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.2f}".rstrip("0")


def _numbers(text: str, unit: tuple[str, str | None] | None) -> set[Value]:
    """Counts and amounts, not dates, times, years, ordinals or parts of names ("COVID-19", "Route 9").
    With the question's unit ("how many representatives"), only the numbers that count it."""
    for pattern in (ISO_DATE, MONTH_DAY, DAY_MONTH, TIME, YEAR):
        text = _blank(text, pattern)
    text = re.sub(r"\b(?:Route|No\.|Number|Highway|Interstate|Flight|Room|Gate|Channel)\s+\d+", " ", text)
    found = [(m, v) for m in NUMBER.finditer(text) if (v := _number(m)) is not None]
    if unit:
        # the counted word itself first ("workers"), else one counting the same kind ("employees");
        # numbers of other things ("3 days", "Route 9") are no answer to it
        found = next(
            (c for pattern in unit if pattern and (c := [(m, v) for m, v in found if _counts(text, m, pattern)])),
            [],
        )
    return {("n", (v, _qualifier(text[: m.start()]))) for m, v in found}


# How a report qualifies a count, as the range of true values it allows (journalistic rounding: "more
# than 40" is 41-46 or so, "some 50" is 48-52); reports agree when their ranges overlap.
_LOWER = "more than|over|above|at least|upwards of|in excess of"
_UPPER = "fewer than|less than|under|below|up to|nearly|almost|just under|at most"
_ABOUT = "about|around|some|roughly|approximately|an estimated|estimated|close to"
LOWER, UPPER, ABOUT = (re.compile(rf"\b(?:{w})\s*$", re.I) for w in (_LOWER, _UPPER, _ABOUT))
QUALIFIER = re.compile(rf"\b(?:{_LOWER}|{_UPPER}|{_ABOUT})\s*$", re.I)


def _qualifier(before: str) -> str:
    before = before[-30:]
    return (
        "lower"
        if LOWER.search(before)
        else "upper"
        if UPPER.search(before)
        else "about"
        if ABOUT.search(before)
        else "exact"
    )


def _range(value: tuple[float, str]) -> tuple[float, float]:
    x, qualifier = value
    if qualifier == "lower":
        return x, x * 1.15
    if qualifier == "upper":
        return x * 0.85, x
    if qualifier == "about":
        return x * 0.97, x * 1.03
    return x, x


def _durations(text: str) -> set[Value]:
    """Durations in seconds; "2 hours 5 minutes 41 seconds" and "2:05:41" are one value."""
    values: set[Value] = set()
    for m in CLOCK.finditer(text):
        values.add(("s", int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))))
    total, last_end = 0.0, -1
    for m in DURATION.finditer(text):
        n = parse_number(m.group("n")) if m.group("n").lower() not in ("a", "an") else 1.0
        if n is None:
            n = parse_number(m.group("n").split()[-1].split("-")[-1])
        if n is None:
            continue
        seconds = n * UNIT_SECONDS[m.group("unit").lower()]
        # parts of one compound duration are separated by spaces, commas or "and" only
        if last_end >= 0 and re.fullmatch(r"[\s,]*(?:and\s*)?", text[last_end : m.start()]):
            total += seconds
        else:
            if last_end >= 0:
                values.add(("s", total))
            total = seconds
        last_end = m.end()
    if last_end >= 0:
        values.add(("s", total))
    return values


def _money(text: str) -> set[Value]:
    values: set[Value] = set()
    for pattern in (MONEY_BEFORE, MONEY_AFTER):
        for m in pattern.finditer(text):
            amount = parse_number(m.group("num").rstrip(".,"))
            if amount is not None:
                cur = m.group("cur").lower().rstrip("s") if len(m.group("cur")) > 1 else m.group("cur")
                values.add(("money", (CURRENCY.get(cur, cur), amount)))
    return values


# --- dates ------------------------------------------------------------------------------------------
def _month_number(name: str) -> int:
    return [m[:3] for m in _MONTHS.split("|")[:12]].index(name[:3].lower()) + 1


def _dates(text: str, kind: str) -> set[Value]:
    values: set[Value] = set()
    rest = text
    for m in ISO_DATE.finditer(text):
        values |= {("md", (int(m.group(2)), int(m.group(3)))), ("year", int(m.group(1))), ("month", int(m.group(2)))}
    rest = _blank(rest, ISO_DATE)
    for pattern, month_group, day_group in ((MONTH_DAY, 1, 2), (DAY_MONTH, 2, 1)):
        for m in pattern.finditer(rest):
            month, day = _month_number(m.group(month_group)), int(m.group(day_group))
            values |= {("md", (month, day)), ("month", month)}
            if m.group(3):
                values.add(("year", int(m.group(3))))
        rest = _blank(rest, pattern)
    for m in MONTH.finditer(rest):
        if m.group(1).lower() != "may" or m.group(1) == "May":  # "may" is mostly the verb
            values.add(("month", _month_number(m.group(1))))
    values |= {("weekday", m.group(1).lower()) for m in WEEKDAY.finditer(text)}
    values |= {("year", int(y)) for y in YEAR.findall(rest)}
    wanted = {"weekday": {"weekday"}, "month": {"month"}, "year": {"year"}, "day": {"md", "weekday"}}
    return {v for v in values if v[0] in wanted.get(kind, {"md", "weekday", "month", "year"})}


# --- names ------------------------------------------------------------------------------------------
NOT_NAMES = {
    *WEEKDAYS, *(m for m in _MONTHS.split("|")), "the", "a", "an", "mr", "mrs", "ms", "dr", "he", "she", "it", "they",
    "we", "i", "this", "that", "but", "and", "in", "on", "at", "as", "after", "before", "while", "when",
}  # fmt: skip
CAPITALISED = re.compile(r"[A-Z][\w'’.-]*(?:\s+(?:of\s+(?:the\s+)?|de\s+|la\s+)?[A-Z][\w'’.-]*)*")
PLACE = re.compile(r"(?<!according )\b(?:in|at|near|from|to|into|outside)\s+(?:the\s+)?(" + CAPITALISED.pattern + ")")
VENUE_WORDS = (
    r"Hotel|Hall|Center|Centre|Stadium|Arena|Park|Building|Palace|Tower|Square|Plaza|Museum|Theatre|Theater|Expo"
    r"|Church|Cathedral|Auditorium|Gardens?"
)
VENUE = re.compile(rf"(?:[A-Z][\w'’-]*\s+)+(?:{VENUE_WORDS})\b")
TITLES = re.compile(
    r"^(?:(?:Fire|Police|Chief|Deputy|Vice|Prime|Foreign|Mayor|Governor|President|Minister|Director|"
    r"Secretary|General|Senator|Judge|Coach|Captain|Dr|Mr|Mrs|Ms|Sir|Dame|Lord|Lady)\.?\s+)+"
)


def _name_key(name: str) -> tuple[str, ...]:
    words = [w.strip(".,'’").lower() for w in re.split(r"\s+", name)]
    return tuple(w for w in words if w and w not in ("the", "of", "de", "la"))


def _names(text: str, kind: str) -> set[Value]:
    if kind == "place":
        found = [m.group(1) for m in PLACE.finditer(text)]
    elif kind == "venue":
        found = [m.group() for m in VENUE.finditer(text)]
    else:
        # proper names inside the sentence: the first word of a sentence is capitalised anyway
        found = []
        for m in CAPITALISED.finditer(text):
            name = m.group()
            if m.start() == 0 or re.search(r"[.!?]\s*[\"“']?$", text[: m.start()]):
                # a sentence's first word is capitalised anyway: "The", "Officials"; keep "Dana Ruiz said"
                words = name.split()
                name = " ".join(words[1:] if words[0].lower() in NOT_NAMES or len(words) == 1 else words)
            if name:
                found.append(name)
        if kind == "person":
            found = [TITLES.sub("", f) for f in found]
            found = [f for f in found if len(f.split()) >= 2 or re.search(rf"\b{re.escape(f)}\s+(?:said|told)\b", text)]
        else:  # an organisation has two or more words ("China Daily", "the State Fire Marshal's Office")
            found = [f for f in found if len(f.split()) >= 2]
    keys = {_name_key(f) for f in found}
    return {("name", k) for k in keys if k and not all(w in NOT_NAMES for w in k)}


def _names_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Case-insensitive containment: "Dana Ruiz" ~ "Chief Dana Ruiz", "Taganrog" ~ "Taganrog Russia"."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return set(short) <= set(long)


# --- the question -----------------------------------------------------------------------------------
# Words that say nothing of what is asked about (qa.conflicts measures an extract's relevance without them).
STOP = frozenset(
    "a an the of in on at to for from by with and or is are was were be been do does did what which who whom whose "
    "when where why how many much that this these those it its as about into will would can could has have had "
    "there their they he she his her next".split()
)


# Words that count people: a report of "some 50 participants" answers "how many representatives".
PEOPLE = (
    "people persons person workers employees staff participants attendees delegates representatives guests "
    "visitors members residents students passengers runners journalists officials soldiers children adults "
    "patients victims spectators fans players athletes"
).split()


def _question_unit(question: str | None) -> tuple[str, str | None] | None:
    """The thing counted, as patterns: "How many workers ..." -> ("worker", any word counting people)."""
    m = re.search(r"\bhow many\s+(?:\w+\s+)??([a-z]{3,})\b", (question or "").lower())
    if not m or m.group(1) in STOP or m.group(1) in ("were", "are", "did", "does", "have", "has", "will"):
        return None
    people = "(?:" + "|".join(w[:6] for w in PEOPLE) + ")" if m.group(1) in PEOPLE else None
    return re.escape(m.group(1)[:6]), people


# --- reading and comparing --------------------------------------------------------------------------
def values(kind: str | None, text: str, question: str | None = None) -> set[Value]:
    """The typed values an extract gives for the kind asked (values the question itself names excluded)."""
    if not kind:
        return set()
    text = DATELINE.sub(lambda m: " " * len(m.group()), text.strip())
    if kind == "number":
        found = _numbers(text, _question_unit(question))
    elif kind == "money":
        found = _money(text)
    elif kind == "duration":
        found = _durations(text)
    elif kind in DATE_KINDS:
        found = _dates(text, kind)
    elif kind in NAME_KINDS:
        found = _names(text, kind)
    else:
        return set()  # ordinal and kinds without a comparable value: no conflict is claimed
    if question:
        named = values(kind, question) if kind not in NAME_KINDS else set()
        found -= named
        if kind in NAME_KINDS:
            asked = set(re.findall(r"[a-z0-9]+", question.lower()))
            found = {v for v in found if not set(v[1]) <= asked}
    return found


def agree(kind: str, a: set[Value], b: set[Value]) -> bool | None:
    """True when the two extracts give a common value, False when they give only different ones on a
    granularity both have, None when they cannot be compared (no value, or only other granularities)."""
    if not a or not b:
        return None
    if kind in NAME_KINDS:
        return any(_names_agree(x[1], y[1]) for x in a for y in b)
    if kind == "money":  # the same amount agrees ("$50,000" and "50,000 dollars" normalise alike)
        return any(x[1][1] == y[1][1] for x in a for y in b)
    if kind == "number":
        return any(_numbers_agree(x[1], y[1]) for x in a for y in b)
    shared = {g for g, _ in a} & {g for g, _ in b}
    if not shared:
        return None
    return any(x == y for x in a for y in b if x[0] in shared)


def _counts(text: str, m: re.Match[str], unit: str) -> bool:
    """The number counts the unit: "40 representatives", "40 media representatives"."""
    return bool(re.match(rf"\W*(?:\w+\W+){{0,2}}{unit}", text[m.end() :], re.I))


def _numbers_agree(x: tuple[float, str], y: tuple[float, str]) -> bool:
    """Alike-qualified counts agree when equal ("more than 40" ~ "over 40", not ~ "more than 45": a
    corrected copy); otherwise when their ranges overlap ("more than 30,000" ~ "31,000")."""
    if x[1] == y[1]:
        return x[0] == y[0] or (x[1] == "about" and abs(x[0] - y[0]) <= 0.03 * max(x[0], y[0]))
    (lo1, hi1), (lo2, hi2) = _range(x), _range(y)
    return lo1 <= hi2 and lo2 <= hi1


# --- showing ----------------------------------------------------------------------------------------
def quote(kind: str, text: str, wanted: set[Value]) -> str | None:
    """The words of the extract that give one of these values ("more than 40", "Fire Chief Dana Ruiz"),
    for showing what each source says; None when they cannot be pointed at (dates)."""
    if kind == "number":
        numbers = {v[1][0] for v in wanted}
        for m in NUMBER.finditer(text):
            if _number(m) in numbers:
                qualifier = QUALIFIER.search(text[: m.start()])
                return text[qualifier.start() if qualifier else m.start() : m.end()]
    elif kind == "money":
        amounts = {v[1][1] for v in wanted}
        for pattern in (MONEY_BEFORE, MONEY_AFTER):
            for m in pattern.finditer(text):
                if parse_number(m.group("num").rstrip(".,")) in amounts:
                    return m.group().strip().rstrip(".,")
    elif kind == "duration":
        spans = [m.group() for m in (*CLOCK.finditer(text), *DURATION.finditer(text))]
        return spans[0] if len(spans) == 1 else None
    elif kind in NAME_KINDS:
        for _, key in sorted(wanted, key=str):
            name = re.search(r"\b" + r"\W+(?:(?:of|the|de|la)\W+)*".join(map(re.escape, key)) + r"\b", text, re.I)
            if name:
                return name.group()
    return None


def show_value(granularity: str, value: Any) -> str:
    """A value as the user sees it: "more than 40", "USD 50,000", "2 h 5 min 41 s", "Oct 21", "Taganrog"."""
    if granularity == "n":
        word = {"lower": "more than ", "upper": "up to ", "about": "about ", "exact": ""}[value[1]]
        return word + _show(value[0])
    if granularity == "money":
        return f"{value[0]} {_show(value[1])}"
    if granularity == "s":
        if value >= 86400 and value % 86400 == 0:  # "three days", not "72 h"
            return f"{int(value) // 86400} days" if value > 86400 else "1 day"
        h, rest = divmod(int(value), 3600)
        m, s = divmod(rest, 60)
        return " ".join(f"{x} {u}" for x, u in ((h, "h"), (m, "min"), (s, "s")) if x) or "0 s"
    if granularity == "md":
        return f"{MONTH_NAMES[value[0] - 1][:3]} {value[1]}"
    if granularity == "month":
        return MONTH_NAMES[int(value) - 1]
    if granularity == "weekday":
        return str(value).capitalize()
    if granularity == "name":
        return " ".join(w.capitalize() for w in value)
    return str(value)
