"""Who else reports an answer: the other copies of the cited story, and sources that answer differently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.conflicts import Extract, find_conflicts, values
from qa.retrieve import Hit, Retriever
from qa.store import ArticleRow

# Extracts of other articles whose score is within this share of the best one's compete as answers
# (on the answer scorer's scale): a weak match naming another number is no report of the thing asked.
CONFLICT_SHARE = 0.8
CONFLICT_SOURCES = 6  # the best extract of at most this many other articles is compared with the answer


@dataclass
class Candidate:
    """An answer candidate as these checks see it: its extract, score and where it comes from."""

    text: str
    score: float
    hit: Hit
    start: int  # offsets of the extract in its article
    end: int


def also_reported_by(retriever: Retriever, article_id: str, story: str | None) -> list[ArticleRow]:
    """The other articles of the cited article's story (syndicated copies, republications), oldest first."""
    if not story:
        return []
    return [row for row in retriever.story_members(story) if row.id != article_id]


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
