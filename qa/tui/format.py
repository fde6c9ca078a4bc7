"""Pure formatting for the TUI: answers into numbered sources, passages and articles into styled Content."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from textual.content import Content

if TYPE_CHECKING:  # the core is imported lazily: the window must paint before numpy and friends load
    from qa.answer import Answer, Citation
    from qa.filters import Filters
    from qa.retrieve import Hit
    from qa.timeline import Evidence

# Theme variables, so the highlights read in light and dark themes alike.
EXTRACT_STYLE = "bold $text-warning on $warning-muted"
PASSAGE_STYLE = "on $primary-muted"
RESOLVED_STYLE = "not bold italic $text-accent"  # a date the library added to the verbatim extract: "(2019-07-19)"
VALUE_STYLE = "bold $text-warning"  # what a conflicting source says ("45")
SNIPPET_CHARS = 240
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class Source:
    """One numbered source of an answer card: an article and the span to show in it."""

    article_id: str
    title: str
    outlet: str | None
    date: str | None
    path: str
    url: str | None
    passage: tuple[int, int]  # the passage's offsets in the article
    extract: tuple[int, int] | None  # the answering sentence(s), in the article; None for a related passage
    text: str  # the passage text shown in the card
    # "answer"; "also" (another article says the same); "conflict" (another source answers differently);
    # "copy" (another copy of the cited story); "related"; or "timeline" (a row of a timeline)
    role: str
    dated: str | None = None  # the extract with relative dates resolved, shown in its place in the card


def sources_of(answer: Answer) -> list[Source]:
    """The answer's sources in the order the card shows them: the citation, other articles saying the same,
    sources that answer differently, other copies of the cited story, then the other passages."""
    out: list[Source] = []
    used: set[tuple[str, int]] = set()
    if answer.answered and answer.citation and answer.passage is not None:
        c = answer.citation
        start = c.start - answer.start
        out.append(
            Source(
                c.article_id,
                c.title,
                c.outlet,
                c.date,
                c.path,
                c.url,
                (start, start + len(answer.passage)),
                (c.start, c.end),
                answer.passage,
                "answer",
                answer.dated_text,
            )
        )
        used.add((c.article_id, start))
        copies = [r for r in answer.also_reported_by if r.article_id != c.article_id]
        copy_ids = {r.article_id for r in copies}
        also = [a for a in answer.also_in if a.article_id not in copy_ids]  # a copy is listed once, as a copy
        cited = [(a, "also", "") for a in also]
        cited += [(x.citation, "conflict", x.text) for x in answer.conflicts]
        cited += [(r, "copy", answer.text or "") for r in copies]  # the extract, to find in the copy
        for citation, role, text in cited:
            source = _cited(citation, answer.hits, role, text)
            out.append(source)
            used.add((source.article_id, source.passage[0]))
    for hit in answer.hits:
        if (hit.article_id, hit.start) in used:
            continue
        used.add((hit.article_id, hit.start))
        out.append(
            Source(
                hit.article_id,
                hit.title,
                hit.outlet,
                hit.date,
                hit.path,
                hit.url,
                (hit.start, hit.end),
                None,
                hit.text,
                "related",
            )
        )
    return out


def _cited(citation: Citation, hits: list[Hit], role: str, text: str) -> Source:
    """A cited extract of another article, shown in the passage that holds it when that passage is a hit;
    otherwise `text` alone: the extract (a conflict's), or for a copy cited without offsets the answer's
    extract, which `locate_copy` looks for in the copy once it is opened."""
    hit = next((h for h in hits if h.article_id == citation.article_id and h.start <= citation.start < h.end), None)
    span = (hit.start, hit.end) if hit else (citation.start, citation.end)
    extract = (citation.start, citation.end) if citation.end > citation.start else None
    return Source(
        citation.article_id,
        citation.title,
        citation.outlet,
        citation.date,
        citation.path,
        citation.url,
        span,
        extract,
        hit.text if hit else text,
        role,
    )


def locate_copy(source: Source, article: str) -> Source:
    """A copy of the cited story cited without offsets, with the answer's extract located in its text when
    the copy carries it verbatim (the view then scrolls to it and highlights it); otherwise as it is."""
    if source.role != "copy" or source.extract is not None or not source.text:
        return source
    at = article.find(source.text)
    if at < 0:  # an edited copy: the view opens at the top
        return source
    span = (at, at + len(source.text))
    return replace(source, passage=span, extract=span)


def timeline_sources(evidence: list[Evidence]) -> list[Source]:
    """A timeline's rows as sources, in its order (oldest first, undated last): each opens its article."""
    return [
        Source(
            e.article_id,
            e.title,
            e.outlet,
            e.date,
            e.path,
            None,
            (e.start, e.end),
            (e.start, e.end),
            e.text,
            "timeline",
            e.dated_text,
        )
        for e in evidence
    ]


def date_label(value: str | None) -> str:
    """An article's date as shown: "2019-09-12"; "Mar 3 (year unknown)" for a dateline without a year
    (stored as --03-03); "undated" when the article has none."""
    if not value:
        return "undated"
    if value.startswith("--") and len(value) == 7 and value[2:4].isdigit() and value[5:].isdigit():
        month, day = int(value[2:4]), int(value[5:])
        if 1 <= month <= 12:
            return f"{MONTHS[month - 1]} {day} (year unknown)"
    return value


def meta_line(source: Source) -> str:
    """Outlet, date and file: every citation says where and when it was published, or that nobody knows."""
    return " · ".join((source.outlet or "outlet unknown", date_label(source.date), source.path))


def scope_line(confidence: float | None, as_of: date | None, filters: Filters | None) -> str:
    """The card's dim line: how sure the answer is and what limited it ("confidence 0.82 · as of 2022-01-01 ·
    since 2021-01-01 · outlet Xinhua"). The as-of date shows when it was typed or is not today (the default)."""
    parts = [] if confidence is None else [f"confidence {confidence:.2f}"]
    typed = filters.as_of if filters is not None else None
    when = as_of or typed
    if when is not None and (typed is not None or when != date.today()):
        parts.append(f"as of {when.isoformat()}")
    if filters is not None:
        if filters.since is not None:
            parts.append(f"since {filters.since.isoformat()}")
        if filters.until is not None:
            parts.append(f"until {filters.until.isoformat()}")
        if filters.outlets:
            word = "outlet" if len(filters.outlets) == 1 else "outlets"
            parts.append(f"{word} {', '.join(filters.outlets)}")
    return " · ".join(parts)


def added_spans(original: str, annotated: str) -> list[tuple[int, int]]:
    """Offsets in `annotated` of what was inserted into `original` (the resolved dates of a dated extract)."""
    matcher = difflib.SequenceMatcher(None, original, annotated, autojunk=False)
    return [(j1, j2) for op, _i1, _i2, j1, j2 in matcher.get_opcodes() if op in ("insert", "replace")]


def extract_content(text: str, dated: str | None = None) -> Content:
    """An extract for the card: with `dated`, the dated version, its added dates styled apart from the
    verbatim words."""
    if not dated:
        return Content(text)
    content = Content(dated)
    for a, b in added_spans(text, dated):
        content = content.stylize(RESOLVED_STYLE, a, b)
    return content


def passage_content(source: Source, context: int | None = None) -> Content:
    """The passage with its extract highlighted (the dated extract in its place when the source has one);
    with `context`, only about that many characters either side of the extract, cut at sentence or line
    boundaries (the source view has the rest)."""
    text = source.text
    if not source.extract:
        return Content(text)
    start, end = source.extract[0] - source.passage[0], source.extract[1] - source.passage[0]
    if not 0 <= start <= end <= len(text):  # the passage is not the one holding the extract
        return extract_content(text, source.dated)
    left, right = 0, len(text)
    if context is not None:
        if start - context > 0:
            left = _boundary_after(text, start - context, start)
        if end + context < len(text):
            right = _boundary_before(text, end + context, end)
    body = text[left:right].strip()
    shift = left + (len(text[left:right]) - len(text[left:right].lstrip()))
    start, end = start - shift, end - shift
    extract = extract_content(body[start:end], source.dated).stylize_before(EXTRACT_STYLE)
    content = Content.assemble(Content(body[:start]), extract, Content(body[end:]))
    return Content.assemble("… " if left > 0 else "", content, " …" if right < len(text) else "")


def _boundary_after(text: str, pos: int, limit: int) -> int:
    """The first sentence or line start at or after pos (but not past limit)."""
    cuts = [i + len(sep) for sep in ("\n", ". ", "? ", "! ") if (i := text.find(sep, pos, limit)) >= 0]
    return min(cuts) if cuts else limit


def _boundary_before(text: str, pos: int, limit: int) -> int:
    """The last sentence or line end at or before pos (but not before limit)."""
    cuts = [i + 1 for sep in ("\n", ". ", "? ", "! ") if (i := text.rfind(sep, limit, pos)) >= 0]
    return max(cuts) if cuts else limit


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of a passage, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + " …"


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Offsets of the non-blank lines of an article."""
    spans = []
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _render(
    text: str, spans: list[tuple[int, int]], passage: tuple[int, int], extract: tuple[int, int] | None
) -> Content:
    """Paragraphs joined by blank lines, with the passage and extract styled where they fall."""
    parts = []
    for a, b in spans:
        part = Content(text[a:b])
        for style, span in ((PASSAGE_STYLE, passage), (EXTRACT_STYLE, extract)):
            if span and span[0] < b and span[1] > a:
                part = part.stylize(style, max(span[0], a) - a, min(span[1], b) - a)
        parts.append(part)
    return Content("\n\n").join(parts)


def article_sections(
    text: str, passage: tuple[int, int], extract: tuple[int, int] | None
) -> tuple[Content, Content, Content]:
    """The article split at paragraph boundaries into before / the paragraphs holding the passage / after,
    so the view can scroll the middle part into view."""
    spans = paragraphs(text)
    first = next((i for i, (a, b) in enumerate(spans) if b > passage[0]), len(spans))
    last = max(first, next((i for i in range(len(spans) - 1, -1, -1) if spans[i][0] < passage[1]), first))
    before, focus, after = spans[:first], spans[first : last + 1], spans[last + 1 :]
    return (
        _render(text, before, passage, extract),
        _render(text, focus, passage, extract),
        _render(text, after, passage, extract),
    )


def status_text(corpus: str, model: str, counts: tuple[int, int] | None, state: str) -> str:
    """The status line: what is indexed, with which model, and how current it is."""
    indexed = f"{counts[0]} articles · {counts[1]} passages" if counts else "index not loaded"
    return f"{corpus} · {indexed} · {model} · {state}"
