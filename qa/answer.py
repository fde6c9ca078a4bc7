"""Pick the sentence that answers a question from the top passages, cite it, or say nothing answers."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

from qa import features, rules, scorer, sources
from qa.dates import annotate_relative
from qa.errors import QuestionError
from qa.features import ANSWER_TYPES, Candidate, expected_type
from qa.filters import Filters
from qa.retrieve import Hit, Retriever, check_question

__all__ = ["ANSWER_TYPES", "Answer", "Citation", "Conflict", "add_sources", "answer", "expected_type"]

RERANK = scorer.RERANK  # fused passages the learned scorer reorders; their sentences all compete for the extract


SCORERS = ("rules", "learned")  # the hand-weighted score of issue 5 (default), the learned model of issue 11


def threshold(which: str = "rules") -> float:
    """The calibrated confidence below which nothing answers, for a scorer."""
    return rules.threshold() if which == "rules" else scorer.load().threshold


@dataclass
class Citation:
    article_id: str
    title: str
    date: str | None
    outlet: str | None
    url: str | None
    path: str
    start: int  # the extract's offsets in the article text
    end: int
    also_at: list[str] = field(default_factory=list)  # other paths holding the same article text
    story: str | None = None  # the story group (syndicated copies share one)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Conflict:
    """Another source's answer that differs on the thing asked (another count, date, name or place)."""

    text: str  # its extract, verbatim
    value: str  # what it says ("45"), as found in the extract
    citation: Citation

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "value": self.value, "citation": self.citation.to_dict()}


@dataclass
class Answer:
    question: str
    answered: bool
    text: str | None = None  # the extract: verbatim sentence(s) of the corpus
    passage: str | None = None
    start: int = 0  # extract offsets inside the passage
    end: int = 0
    score: float = 0.0
    citation: Citation | None = None
    also_in: list[Citation] = field(default_factory=list)  # other articles saying the same
    hits: list[Hit] = field(default_factory=list)
    as_of: date | None = None  # the date the question was asked as of (None: no date limit)
    filters: Filters | None = None
    confidence: float | None = None  # probability that the extract answers the question
    also_reported_by: list[Citation] = field(default_factory=list)  # other copies of the cited story
    conflicts: list[Conflict] = field(default_factory=list)  # sources that answer differently
    dated_text: str | None = None  # the extract with relative dates resolved: "on Friday (2019-07-19)"

    def to_dict(self) -> dict[str, Any]:
        answer = None
        if self.answered and self.citation:
            c = self.citation
            answer = {
                "text": self.text,
                "passage": self.passage,
                "start": self.start,
                "end": self.end,
                "score": round(self.score, 4),
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "dated_text": self.dated_text,
                "citation": c.to_dict(),
                "also_in": [{"article_id": s.article_id, "title": s.title, "path": s.path} for s in self.also_in],
                "also_reported_by": [r.to_dict() for r in self.also_reported_by],
                "conflicts": [x.to_dict() for x in self.conflicts],
            }
        hits = [
            {
                k: h.to_dict()[k]
                for k in (
                    "rank",
                    "score",
                    "text",
                    "article_id",
                    "title",
                    "date",
                    "outlet",
                    "url",
                    "path",
                    "start",
                    "end",
                    "story",
                )
            }
            for h in self.hits
        ]
        return {
            "question": self.question,
            "answered": self.answered,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "filters": (self.filters or Filters()).to_dict(),
            "answer": answer,
            "hits": hits,
        }


# --- answering ---------------------------------------------------------------------------------------
def answer(
    retriever: Retriever,
    question: str,
    k: int = 5,
    mode: str = "hybrid",
    filters: Filters | None = None,
    as_of: date | None = None,
    min_confidence: float | None = None,
    which: str = "rules",
) -> Answer:
    """Search, then choose the best sentence (or two adjacent ones) of the top passages with a scorer
    (`which`: "rules", the hand-weighted score, or "learned", the model that also reranks the passages);
    below the confidence threshold (the calibrated one, or `min_confidence`), say that the corpus does not
    answer and keep the passages as related. `filters` and `as_of` (articles dated after it do not
    answer) are applied by the retriever."""
    question = check_question(question)
    if which not in SCORERS:
        raise QuestionError(f"unknown scorer {which!r}: choose one of {', '.join(SCORERS)}")
    vector = retriever.embed(question)
    # the learned scorer reads 30 passages; the rules the top 5 of the same search (as eval/calibrate.py did)
    depth = max(k, RERANK)
    hits = retriever.search(question, k=depth, mode=mode, vector=vector, filters=filters, as_of=as_of)
    result = Answer(question=question, answered=False, hits=hits[:k], as_of=as_of, filters=filters)
    if which == "rules":
        candidates = rules.scored(retriever, question, vector, hits, as_of)
        if not candidates:
            return result
        best = max(candidates, key=lambda c: c.rank)
        result.hits = rules.reranked(hits, candidates)[:k]
        result.confidence = rules.confidence(best)
    else:
        model = scorer.load()
        candidates = features.candidates(retriever, hits)
        if not candidates:
            return result
        cues = features.QuestionCues.of(question, vector, retriever, as_of)
        X = features.matrix(retriever, cues, candidates, hits)
        ranked = model.rank(X, np.array([c.passage for c in candidates]), len(hits))
        for c, logit in zip(candidates, ranked.logits):
            c.score = float(logit)
        result.hits = [dataclasses.replace(hits[j], rank=n) for n, j in enumerate(ranked.order[:k], 1)]
        best = candidates[ranked.best]
        result.confidence = ranked.confidence
    result.score = best.score
    if result.confidence < (threshold(which) if min_confidence is None else min_confidence):
        return result
    hit = best.hit
    result.answered = True
    result.text = best.text
    result.passage = hit.text
    result.start, result.end = best.start - hit.start, best.end - hit.start
    result.citation = _cite(hit, best.start, best.end)
    result.citation.also_at = [row.path for row in retriever.catalog.copies(hit.article_id)[1:]]
    result.also_in = _support(best, candidates)
    add_sources(result, retriever, expected_type(question), best, candidates)
    return result


def add_sources(
    result: Answer, retriever: Retriever, kind: str | None, best: Candidate, others: list[Candidate]
) -> None:
    """What other sources say: the cited story's other copies, answers that differ on the thing asked
    (side by side, never silently reduced to one), and for "when" questions the extract's relative
    dates resolved against its article's date."""
    citation = result.citation
    assert citation is not None
    citation.story = best.hit.story
    for row, start, end in sources.also_reported_by(retriever, best.hit.article_id, best.hit.story, best.text):
        copy = Citation(row.id, row.title, row.date, row.outlet, row.url, row.path, start, end, story=row.story)
        result.also_reported_by.append(copy)
    for rival, value in sources.conflicting(result.question, kind, best, others):
        cite = _cite(rival.hit, rival.start, rival.end)
        cite.story = rival.hit.story
        result.conflicts.append(Conflict(rival.text, value, cite))
    if kind in WHEN_KINDS and result.text:
        dated = annotate_relative(result.text, citation.date)
        result.dated_text = dated if dated != result.text else None


WHEN_KINDS = ("date", "day", "weekday", "month", "year")  # questions whose answer card resolves "on Friday"


def _cite(hit: Hit, start: int, end: int) -> Citation:
    return Citation(hit.article_id, hit.title, hit.date, hit.outlet, hit.url, hit.path, start, end)


def _support(best: Candidate, candidates: list[Candidate]) -> list[Citation]:
    """Other articles with a sentence saying nearly the same thing as the extract."""
    out: dict[str, Citation] = {}
    for c in candidates:
        if c.hit.article_id == best.hit.article_id or c.hit.article_id in out:
            continue
        if float(np.max(c.vectors @ best.vectors.T)) >= 0.85 and c.score >= best.score - 0.1:
            out[c.hit.article_id] = _cite(c.hit, c.start, c.end)
    return list(out.values())
