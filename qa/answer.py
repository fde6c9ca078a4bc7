"""Pick the sentence that answers a question from the top passages, cite it, or say nothing answers."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np

from qa import sources
from qa.dates import annotate_relative
from qa.filters import Filters
from qa.retrieve import Hit, Retriever, check_question

PASSAGES = 5  # top passages whose sentences compete for the extract
# The release criterion applied to the two tuning sets together (eval/questions.jsonl and
# questions-holdout.jsonl, 77 answerable questions): the best-sentence score below which 5 % of them
# (3) fall. Grid over the score weights too; see eval/README.md.
ANSWER_THRESHOLD = 0.3258


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


@dataclass
class Candidate:
    hit: Hit
    start: int  # in the article
    end: int
    vectors: np.ndarray  # one row per sentence: one, or two for an adjacent pair
    score: float = 0.0


# --- lexical cues and the expected answer type ------------------------------------------------------
WORD = re.compile(r"\w+", re.U)
STOP = frozenset(
    "a an the of in on at to for from by with and or is are was were be been being do does did what which who "
    "whom whose when where why how many much that this these those it its as about into than then there their "
    "they he she his her we our you your i me my will would can could should shall may might has have had not "
    "no yes if so such also any some all each according said say says".split()
)
_NUMBER = r"\d[\d,.]*|one(?! of\b)|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
_NUMBER += r"|hundreds?|thousands?|millions?|billions?|dozens?"
_ORDINAL = r"\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_VENUE = r"Hotel|Hall|Center|Centre|Stadium|Arena|Park|Building|Palace|Tower|Square|Plaza|Museum|Theatre|Theater|Expo"
_UNIT = r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?"
_CURRENCY = r"[$€£¥]|\b(?:dollars?|yuan|renminbi|rubles?|roubles?|euros?|pounds?|yen|rupees?|USD|RMB|CNY|EUR)\b"
_ROLE = (
    r"official|minister|president|leader|spokes(?:man|woman|person)|chair(?:man|woman|person)?|executive|director"
    r"|editor|journalist|reporter|expert|diplomat|ambassador|secretary|governor|mayor|person|man|woman"
)
# What an extract must contain to answer a question of each type (the classic expected-answer-type filter).
ANSWER_TYPES = {
    # a count, not part of a name or a compound ("COVID-19", "5G" and "a three-day forum" count nothing)
    "number": re.compile(rf"(?<![\w-])(?:{_NUMBER})\b(?!-\w)", re.I),
    "money": re.compile(_CURRENCY, re.I),
    "duration": re.compile(rf"\b(?:{_NUMBER}|several|a few|an?)[ -](?:{_UNIT})\b", re.I),
    "ordinal": re.compile(rf"\b(?:{_ORDINAL})\b", re.I),
    "weekday": re.compile(rf"\b{_WEEKDAY}\b"),
    "month": re.compile(rf"\b{_MONTH}"),
    "year": re.compile(r"\b(?:1[89]|20)\d\d\b"),
    "day": re.compile(rf"\b{_MONTH} \d{{1,2}}\b|\b\d{{1,2}} {_MONTH}|\b{_WEEKDAY}\b|\b\d{{4}}-\d\d-\d\d\b"),
    "date": re.compile(
        rf"\b(?:{_WEEKDAY}|{_MONTH}|\d{{4}}|(?:this|last|next) (?:year|month|week)|yesterday|today|tomorrow)"
    ),
    # a two-word capitalised name inside the sentence, or one that opens it before a comma ("Ma Li, president")
    "person": re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+ [A-Z][a-z]+\b|^[A-Z][a-z]+ [A-Z][a-z]+,"),
    # "in Wuxi", or a dateline ("BEIJING, Oct. 21 (Xinhua) --")
    "place": re.compile(r"\b(?:in|at|to|from|near)\s+(?:the\s+)?[A-Z][a-z]+|^[A-Z]{3,}(?: [A-Z]{3,})*, "),
    "venue": re.compile(rf"\b[A-Z][\w'-]* (?:{_VENUE})\b"),
    # a multi-word proper name not at the sentence start ("the Jiangsu Cyberspace Affairs Commission")
    "organization": re.compile(r"(?<!^)\b[A-Z][\w'-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]*)+"),
}
# A yes/no question ("Did Ma Li mention AI when ...?", "Was this the first ...?") is answered by the sentence
# that says so, whatever kind of words it holds: no type is expected of it.
YES_NO = re.compile(r"^(is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b")
QUESTION_TYPES = [  # first match wins: the narrower types come first
    ("weekday", r"\b(weekday|day of the week|what day)\b"),
    ("month", r"\b(which|what) month\b"),
    ("year", r"\b(which|what) year\b"),
    ("day", r"\b(which|what)( exact)? date\b"),
    (
        "money",
        r"\bhow much\b.*\b(cost|costs|spend|spent|pay|paid|price|worth|budget|invest|invested)\b"
        r"|\b(what|which) (is|was|are|were) the (cost|price|budget|value)\b",
    ),
    ("duration", rf"\bhow long\b|\bhow many ({_UNIT})\b"),
    (
        "number",
        r"\bhow (many|much|old|large|big)\b|\b(what|which) (is|was|are|were) the (population|number|size|"
        r"percentage|share|amount|age|turnout|attendance|headcount)\b",
    ),
    ("ordinal", r"\b(which|what) (edition|session|round|anniversary)\b"),
    ("date", r"\bwhen\b"),
    ("venue", r"\b(which|what) (\w+ )?(hotel|venue|building|hall|stadium|arena)\b"),
    (
        "organization",
        r"^(?!.*\b(kinds?|types?|sorts?) of\b).*\b(which|what) (\w+ ){0,2}(agency|agencies|company|"
        r"companies|newspapers?|outlets?|broadcasters?|organi[sz]ations?)\b",
    ),
    (
        "person",
        rf"^who\b|\bwho (is|was|are|were|chaired|led|won|moderated|spoke|heads?|headed)\b"
        rf"|\b(which|what) (\w+ ){{0,2}}({_ROLE})\b",
    ),
    ("place", r"\bwhere\b|\b(which|what) (city|country|place|town|province|region)\b"),
]
ORDINAL = re.compile(rf"\b(?:{_ORDINAL})\b", re.I)


def expected_type(question: str) -> str | None:
    """The kind of thing the question asks for, when its wording says so (a number, a date, a person ...)."""
    q = question.lower()
    if YES_NO.match(q):
        return None
    return next((name for name, pattern in QUESTION_TYPES if re.search(pattern, q)), None)


def question_ordinals(question: str) -> set[str]:
    """Editions a wh-question presupposes ("the second forum"); a yes/no question may be asking about one."""
    return set() if YES_NO.match(question.lower()) else {m.group().lower() for m in ORDINAL.finditer(question)}


def _missing_ordinal(question_ordinals: set[str], sentence: str) -> bool:
    """ "the second forum" is not answered by a sentence about the third one."""
    found = {m.group().lower() for m in ORDINAL.finditer(sentence)}
    return not question_ordinals <= found


@lru_cache(maxsize=1)
def _stem():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def content_words(text: str) -> set[str]:
    stem = _stem()
    return {stem(w) for w in WORD.findall(text.lower()) if len(w) > 1 and w not in STOP}


def lexical_overlap(question_words: set[str], sentence_words: list[set[str]]) -> list[float]:
    """Share of the question's words each sentence contains, rarer words (among the candidates) counting more."""
    if not question_words:
        return [0.0] * len(sentence_words)
    n = len(sentence_words)
    weight = {w: np.log(1 + n / (1 + sum(w in s for s in sentence_words))) for w in question_words}
    total = sum(weight.values())
    return [sum(weight[w] for w in question_words & s) / total for s in sentence_words]


# --- answering ---------------------------------------------------------------------------------------
PAIR_PENALTY = 0.02  # two adjacent sentences win only when together they answer clearly better
TYPE_PENALTY = 0.2  # the sentence holds no thing of the kind asked for (no number for "how many" ...)
ORDINAL_PENALTY = 0.2  # the question names an edition ("the second forum") the sentence does not
# A sentence opening with "Therefore," or "In this way," leans on the one before: to a "why" or "how"
# question it is not the answer alone (the reason or the way is in the sentence before), the pair is.
ANAPHORIC_OPENER = re.compile(
    r"^[\"“']?(therefore|thus|hence|as a result|in this way|in this sense|that is why|this is why|for this reason)\b",
    re.I,
)
ANAPHORA_PENALTY = 0.05
REASON_OR_MANNER = re.compile(r"\b(why|how(?! (many|much|long|old|large|big|often|far)\b))\b", re.I)


def answer(
    retriever: Retriever,
    question: str,
    k: int = 5,
    mode: str = "hybrid",
    filters: Filters | None = None,
    as_of: date | None = None,
) -> Answer:
    """Search, then choose the best sentence (or two adjacent ones) in the top passages; below the
    threshold, say that the corpus does not answer and keep the passages as related. `filters` and
    `as_of` (articles dated after it do not answer) are applied by the retriever."""
    question = check_question(question)
    vector = retriever.embed(question)
    hits = retriever.search(question, k=max(k, PASSAGES), mode=mode, vector=vector, filters=filters, as_of=as_of)
    result = Answer(question=question, answered=False, hits=hits[:k], as_of=as_of, filters=filters)
    sentences = _candidates(retriever, hits[:PASSAGES])
    if not sentences:
        return result
    candidates = sentences + _pairs(retriever, sentences)
    kind = expected_type(question)
    ordinals = question_ordinals(question)
    reason_or_manner = bool(REASON_OR_MANNER.search(question))
    qwords = content_words(question)
    texts = [_sentence_text(retriever, c) for c in candidates]
    lexical = lexical_overlap(qwords, [content_words(t) for t in texts])
    best_hit_score = max(h.score for h in hits)
    for c, lex, text in zip(candidates, lexical, texts):
        dense = float(np.max(c.vectors @ vector))
        c.score = score_sentence(dense, lex, _relative(c.hit.score, best_hit_score))
        c.score -= PAIR_PENALTY * (len(c.vectors) - 1)
        if kind and not ANSWER_TYPES[kind].search(text):
            c.score -= TYPE_PENALTY
        if ordinals and _missing_ordinal(ordinals, text):
            c.score -= ORDINAL_PENALTY
        if reason_or_manner and len(c.vectors) == 1 and ANAPHORIC_OPENER.match(text):
            c.score -= ANAPHORA_PENALTY
    best = max(candidates, key=lambda c: c.score)
    result.score = best.score
    if best.score < ANSWER_THRESHOLD:
        return result
    hit = best.hit
    result.answered = True
    result.text = _sentence_text(retriever, best)
    result.passage = hit.text
    result.start, result.end = best.start - hit.start, best.end - hit.start
    result.citation = _cite(hit, best.start, best.end)
    result.citation.also_at = [row.path for row in retriever.catalog.copies(hit.article_id)[1:]]
    result.also_in = _support(best, sentences)
    others = [sources.Candidate(t, c.score, c.hit, c.start, c.end) for c, t in zip(candidates, texts)]
    add_sources(result, retriever, kind, sources.Candidate(result.text, best.score, hit, best.start, best.end), others)
    return result


def add_sources(
    result: Answer, retriever: Retriever, kind: str | None, best: sources.Candidate, others: list[sources.Candidate]
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


def score_sentence(dense: float, lexical: float, passage: float) -> float:
    """Meaning first, then shared words, then the passage's rank. Weights from a grid search on both
    question sets (eval/questions.jsonl and eval/questions-holdout.jsonl; see the README)."""
    return 0.45 * dense + 0.15 * lexical + 0.1 * passage


def _relative(score: float, best: float) -> float:
    """A passage's score as a share of the best one's; nothing when none matches at all (every score at
    or below zero, as for a question from another field), so the worst passage gets no bonus."""
    return max(score, 0.0) / best if best > 0 else 0.0


def _pairs(retriever: Retriever, sentences: list[Candidate]) -> list[Candidate]:
    """Adjacent sentences of one passage as one candidate: an answer often sits in the sentence after
    the one that names its subject ("..., she said.", "The conference, which is the 13th ...")."""
    ordered = sorted(sentences, key=lambda c: (c.hit.article_id, c.start))
    out = []
    for a, b in zip(ordered, ordered[1:]):
        if a.hit.article_id != b.hit.article_id or b.start < a.end:
            continue
        article = retriever.article(a.hit.article_id)
        if article is None or article.text[a.end : b.start].strip():
            continue  # not adjacent (a paragraph break is allowed: quotes often follow their speaker)
        hit = a.hit if b.end <= a.hit.end else b.hit if a.start >= b.hit.start else None
        if hit is not None:  # the passage shown must hold both sentences
            out.append(Candidate(hit, a.start, b.end, np.vstack([a.vectors, b.vectors])))
    return out


def _sentence_text(retriever: Retriever, c: Candidate) -> str:
    article = retriever.article(c.hit.article_id)
    return article.text[c.start : c.end] if article else ""


def _candidates(retriever: Retriever, hits: list[Hit]) -> list[Candidate]:
    seen: set[tuple[str, int]] = set()
    out = []
    for hit in hits:
        article = retriever.article(hit.article_id)
        for start, end, vector in retriever.catalog.sentences_in(hit.article_id, hit.start, hit.end):
            if start == 0 and article and article.text[:end] == article.title:
                continue  # the headline names the story; an answer is a sentence of it
            if (hit.article_id, start) in seen:
                continue  # a sentence shared by overlapping passages competes once
            seen.add((hit.article_id, start))
            out.append(Candidate(hit, start, end, vector.reshape(1, -1)))
    return out


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
