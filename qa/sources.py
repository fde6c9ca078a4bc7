"""Who else reports an answer: the other copies of the cited story, and sources that answer differently."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.conflicts import Extract, find_conflicts
from qa.features import Candidate
from qa.retrieve import Retriever
from qa.store import ArticleRow
from qa.stories import ArticleInfo, representative
from qa.values import values

# Extracts of other articles whose score is within this share of the best one's compete as answers
# (on the answer scorer's scale): a weak match naming another number is no report of the thing asked.
CONFLICT_SHARE = 0.8
CONFLICT_SOURCES = 6  # the best extract of at most this many other articles is compared with the answer


WORD = re.compile(r"\w+")


def also_reported_by(
    retriever: Retriever, article_id: str, story: str | None, extract: str
) -> list[tuple[ArticleRow, int, int]]:
    """The other articles of the cited article's story (syndicated copies, republications), its
    representative first (the copy naming a wire agency as its source, else the earliest), then by date,
    each with the offsets of its sentence(s) that carry the extract: the same words where the copy has
    them, else the span of its sentences sharing most words with it (an edited copy: "over 40")."""
    if not story:
        return []
    members = retriever.story_members(story)
    if len(members) < 2:
        return []
    first = representative([ArticleInfo(m.id, m.date, m.outlet, m.text) for m in members])
    members.sort(key=lambda m: m.id != first)  # the story's representative (the wire's, or the earliest) first
    return [(row, *_matching_span(row.text, extract)) for row in members if row.id != article_id]


def _matching_span(text: str, extract: str) -> tuple[int, int]:
    found = text.find(extract)
    if found >= 0:
        return found, found + len(extract)
    from qa.chunk import split_sentences

    wanted = set(WORD.findall(extract.lower()))
    spans = split_sentences(text)
    n = max(1, len(split_sentences(extract)))  # a two-sentence extract matches two adjacent sentences
    best, best_share = (0, 0), 0.0
    for i in range(len(spans)):
        start, end = spans[i][0], spans[min(i + n, len(spans)) - 1][1]
        words = set(WORD.findall(text[start:end].lower()))
        share = len(wanted & words) / max(1, len(wanted | words))
        if share > best_share:
            best, best_share = (start, end), share
    return best


def conflicting(
    question: str, kind: str | None, best: Candidate, others: Sequence[Candidate]
) -> list[tuple[Candidate, str]]:
    """Candidates of other articles that give another value of the kind asked (a count, a date, a name)
    than the answer, each with the value as written there; [] when they agree or nothing compares.
    Copies of the answer's own story count too: a corrected copy is a conflict."""
    if not kind:
        return []
    floor = best.score * CONFLICT_SHARE if best.score > 0 else best.score - abs(best.score) * (1 - CONFLICT_SHARE)
    pool: dict[str, Candidate] = {}  # per other article, its best extract that gives a value of the kind
    for c in sorted(others, key=lambda c: -c.score):
        if c.score < floor or len(pool) == CONFLICT_SOURCES:
            break
        if c.hit.article_id != best.hit.article_id and c.hit.article_id not in pool and values(kind, c.text, question):
            pool[c.hit.article_id] = c
    if not pool:
        return []
    rivals = [best, *pool.values()]
    extracts = [Extract(c.text, c, c.hit.story, context=c.hit.text) for c in rivals]
    groups = find_conflicts(kind, extracts, question)
    if len(groups) < 2 or not any(e.citation is best for e in groups[0].extracts):
        return []  # agreement, or the answer itself gives no comparable value
    out = []
    for group in groups[1:]:
        for extract, quote in zip(group.extracts, group.quotes):
            out.append((extract.citation, quote))
    return out
