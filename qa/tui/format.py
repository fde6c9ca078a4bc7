"""Pure formatting for the TUI: answers into numbered sources, passages and articles into styled Content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.content import Content

if TYPE_CHECKING:  # the core is imported lazily: the window must paint before numpy and friends load
    from qa.answer import Answer

# Theme variables, so the highlights read in light and dark themes alike.
EXTRACT_STYLE = "bold $text-warning on $warning-muted"
PASSAGE_STYLE = "on $primary-muted"
SNIPPET_CHARS = 240


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
    role: str  # "answer", "also" (another article says the same) or "related"


def sources_of(answer: Answer) -> list[Source]:
    """The answer's citation first, then other articles saying the same, then the other passages."""
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
            )
        )
        used.add((c.article_id, start))
        for also in answer.also_in:
            hit = next(
                (h for h in answer.hits if h.article_id == also.article_id and h.start <= also.start < h.end), None
            )
            span = (hit.start, hit.end) if hit else (also.start, also.end)
            text = hit.text if hit else ""
            out.append(
                Source(
                    also.article_id,
                    also.title,
                    also.outlet,
                    also.date,
                    also.path,
                    also.url,
                    span,
                    (also.start, also.end),
                    text,
                    "also",
                )
            )
            used.add((also.article_id, span[0]))
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


def meta_line(source: Source) -> str:
    """Outlet, date and file, whichever are known."""
    return " · ".join(x for x in (source.outlet, source.date, source.path) if x)


def passage_content(source: Source, context: int | None = None) -> Content:
    """The passage with its extract highlighted; with `context`, only about that many characters either
    side of the extract, cut at sentence or line boundaries (the source view has the rest)."""
    text = source.text
    if not source.extract:
        return Content(text)
    start, end = source.extract[0] - source.passage[0], source.extract[1] - source.passage[0]
    left, right = 0, len(text)
    if context is not None:
        if start - context > 0:
            left = _boundary_after(text, start - context, start)
        if end + context < len(text):
            right = _boundary_before(text, end + context, end)
    body = text[left:right].strip()
    shift = left + (len(text[left:right]) - len(text[left:right].lstrip()))
    content = Content(body).stylize(EXTRACT_STYLE, start - shift, end - shift)
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
