"""Conflicting reports: answer extracts from different sources that give another value of the kind
asked (the values themselves: qa.values)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.values import STOP, Value, agree, quote, show_value, values


@dataclass
class Extract:
    """One candidate answer: its verbatim text and where it comes from (title, outlet, date, path ...)."""

    text: str
    citation: Any = None
    story: str | None = None  # copies of one story that disagree (a correction) are a conflict too
    context: str = ""  # the passage or article around it: which edition ("the 12th conference") it is about


@dataclass
class ValueGroup:
    """One of the differing answers, with every extract that gives it."""

    value: str  # normalised, as shown: "more than 40", "2 h 5 min 41 s", "Monday", "Taganrog"
    extracts: list[Extract] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)  # per extract, the value as written there ("over 40")


# --- relevance: is an extract about the thing asked? -------------------------------------------------
def _stems(text: str) -> set[str]:
    # five-letter prefixes: "hosted" ~ "host", "representatives" ~ "representative", no stemmer import
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in STOP}


ORDINAL = re.compile(
    r"\b\d+(?:st|nd|rd|th)\b|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\b", re.I
)


def relevant(question: str | None, text: str, min_share: float = 1 / 3, context: str = "") -> bool:
    """The extract is about what the question asks: no other edition than the one it names, and a
    third of its words (an independent report words things its own way; two-word questions pass)."""
    wanted = {o.lower() for o in ORDINAL.findall(question or "")}
    given = {o.lower() for o in ORDINAL.findall(text)} or {o.lower() for o in ORDINAL.findall(context)}
    if wanted and given and not wanted & given:
        return False  # "the 13th conference" is not answered by a report on the 12th
    words = _stems(question or "")
    return len(words) < 3 or len(words & _stems(text)) >= min_share * len(words)


# --- conflicts ---------------------------------------------------------------------------------------
def find_conflicts(kind: str | None, extracts: Sequence[Extract], question: str | None = None) -> list[ValueGroup]:
    """Groups of extracts that give different values of the kind asked (`qa.answer.expected_type`), the
    group of the first (best) extract first; [] when they agree, cannot be compared, or no kind is
    expected. With the question, extracts about something else (fewer than a third of its words) and values
    it names itself ("How many attended the 2020 forum?": 2020) take no part."""
    if not kind:
        return []
    typed = [(e, values(kind, e.text, question)) for e in extracts if relevant(question, e.text, context=e.context)]
    typed = [(e, v) for e, v in typed if v]
    # Best first, each extract joins the first group all of whose members it agrees with (or cannot be
    # compared with); no chaining, so "more than 40" ~ "more than 45" ~ "some 50" does not make 40 ~ 50.
    group_list: list[list[int]] = []
    for i in range(len(typed)):
        home = next(
            (
                g
                for g in group_list
                if all(agree(kind, typed[i][1], typed[j][1]) is not False for j in g)
                and any(agree(kind, typed[i][1], typed[j][1]) for j in g)
            ),
            None,
        )
        if home is None:
            group_list.append([i])
        else:
            home.append(i)
    groups = dict(enumerate(group_list))
    # a group is shown only when it clearly disagrees with another (a value that cannot be compared
    # with the others is no evidence of a conflict)
    clashing = [
        g
        for g in groups.values()
        if any(
            agree(kind, typed[i][1], typed[j][1]) is False for h in groups.values() if h is not g for i in g for j in h
        )
    ]
    if len(clashing) < 2:
        return []
    out = []
    for g in clashing:
        label = _label(kind, [typed[i][1] for i in g])
        shared = set.intersection(*(typed[i][1] for i in g))
        quotes = [quote(kind, typed[i][0].text, shared or typed[i][1]) or label for i in g]
        out.append(ValueGroup(label, [typed[i][0] for i in g], quotes))
    return out


def _label(kind: str, sets: list[set[Value]]) -> str:
    """The value a group gives, as shown: the one most of its extracts share."""
    counts: dict[Value, int] = {}
    for s in sets:
        for v in s:
            counts[v] = counts.get(v, 0) + 1
    granularity, value = max(counts, key=lambda v: counts[v])
    if granularity in ("md", "weekday", "month", "year"):  # a date as the first extract gives it
        parts = {g: show_value(g, v) for g, v in sorted(sets[0], key=str)}
        if "md" in parts:
            parts.pop("month", None)
        return ", ".join(parts[g] for g in ("weekday", "md", "month", "year") if g in parts)
    return show_value(granularity, value)
