"""Line-level boilerplate filter for scraped plain text: keep prose, drop menus, link lists, boxes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Short lines that are page furniture, never article prose.
BOILERPLATE = re.compile(
    r"(?i)^\W*(related( reading| articles| stories)?|we recommend|most (read|popular|viewed|shared)|top \d+|"
    r"hot news|key ?words|tags?|share( this)?|links?|popular on .*|add your comment|comments?|"
    r"read more|advertisement|sponsored|subscribe.*|sign up.*|follow us.*|search|archive|home|menu|"
    r"print|email|copyright.*|all rights reserved.*|©.*|english>*|chinese)\W*$"
)
# Prose-looking lines that are still furniture (editor credits, "follow us" notes, copyright).
FURNITURE = re.compile(
    r"(?i)(web editor:|editor:\s*\w+|please follow .* on (twitter|facebook)|all rights reserved|"
    r"^\(?\s*for the latest .* news|click here|sign up for|subscribe to our|cookies?)"
)
SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*$")
CAMEL_RUN = re.compile(r"[a-z][A-Z][a-z]")  # "HomeOpinionsBusiness": menu items glued together
# Chinese and Japanese write no spaces between words: each character counts as a word, so their
# paragraphs are prose and their headlines titles (else a whole GBK article would be "boilerplate").
UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def word_count(line: str) -> int:
    return len(line.split()) + len(UNSPACED.findall(line))


@dataclass
class CleanedLines:
    title: str | None = None
    header: list[str] = field(default_factory=list)  # lines before the body: bylines, datelines, menus
    body: list[str] = field(default_factory=list)


def is_prose(line: str) -> bool:
    """A body paragraph: several words, ends like a sentence, not glued menu items or furniture."""
    if word_count(line) < 4 or not SENTENCE_END.search(line):
        return False
    if len(CAMEL_RUN.findall(line)) >= 3 or FURNITURE.search(line):
        return False
    letters = sum(c.isalpha() for c in line)
    return letters >= 0.5 * len(line)


def is_title(line: str) -> bool:
    """A headline: 3-30 words, mostly letters, not a sentence, not menu or byline."""
    if not 3 <= word_count(line) <= 30 or SENTENCE_END.search(line) or BOILERPLATE.match(line):
        return False
    if CAMEL_RUN.search(line) or re.search(r"\d{1,2}:\d{2}|^\(|https?://|\bdate\b", line, re.I):
        return False
    letters = sum(c.isalpha() for c in line)
    return letters >= 0.6 * len(line)


def clean_lines(lines: list[str]) -> CleanedLines:
    """Split a page into header, title and prose body; everything else is dropped."""
    out = CleanedLines()
    first_body = next((i for i, line in enumerate(lines) if is_prose(line)), None)
    if first_body is None:
        return out
    out.header = lines[:first_body]
    # The headline is the last title-like line above the first paragraph (menus come before it).
    out.title = next((line for line in reversed(out.header) if is_title(line)), None)
    out.body = [line for line in lines[first_body:] if is_prose(line)]
    return out
