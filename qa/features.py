"""What the answer scorer looks at: candidate extracts of the top passages and one feature row for each.

A candidate is one sentence of a passage, or two adjacent ones. Its features say how close it is to the
question in meaning and in words, whether it holds the kind of thing asked for, and whether it agrees
with what the question pins down (years, months, quarters, numbers, editions, names), in the sentence
itself and in its article. The learned weights that turn them into a probability live in `qa.scorer`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from qa.dates import FUTURE, LOG_DECADE, TimeScope, time_features, time_scope

if TYPE_CHECKING:
    from qa.retrieve import Hit, Retriever

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
_DAY_OF_MONTH = rf"\b{_MONTH} \d{{1,2}}\b|\b\d{{1,2}} {_MONTH}"  # "Oct. 21", "21 October"
_VENUE = r"Hotel|Hall|Center|Centre|Stadium|Arena|Park|Building|Palace|Tower|Square|Plaza|Museum|Theatre|Theater|Expo"
_UNIT = r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?"
_CURRENCY = r"[$€£¥]|\b(?:dollars?|yuan|renminbi|rubles?|roubles?|euros?|pounds?|yen|rupees?|USD|RMB|CNY|EUR)\b"
_ROLE = (
    r"official|minister|president|leader|spokes(?:man|woman|person)|chair(?:man|woman|person)?|executive|director"
    r"|editor|journalist|reporter|expert|diplomat|ambassador|secretary|governor|mayor|person|man|woman"
)


class Count:
    """A count: a number not part of a name or a compound ("COVID-19", "5G" and "a three-day forum" count
    nothing), nor a day of the month or a time of day ("BEIJING, Oct. 21", "11:45": a dateline answers no
    "how many"). Searched like the other answer types' patterns."""

    number = re.compile(rf"(?<![\w-])(?:{_NUMBER})\b(?!-\w)", re.I)
    not_counts = re.compile(rf"{_DAY_OF_MONTH}|\b\d{{1,2}}:\d\d\b")

    def search(self, text: str) -> re.Match[str] | None:
        return self.number.search(self.not_counts.sub(" ", text))


# What an extract must contain to answer a question of each type (the classic expected-answer-type filter).
ANSWER_TYPES: dict[str, re.Pattern[str] | Count] = {
    "number": Count(),
    "money": re.compile(_CURRENCY, re.I),
    "duration": re.compile(rf"\b(?:{_NUMBER}|several|a few|an?)[ -](?:{_UNIT})\b", re.I),
    "ordinal": re.compile(rf"\b(?:{_ORDINAL})\b", re.I),
    "weekday": re.compile(rf"\b{_WEEKDAY}\b"),
    "month": re.compile(rf"\b{_MONTH}"),
    "year": re.compile(r"\b(?:1[89]|20)\d\d\b"),
    "day": re.compile(rf"{_DAY_OF_MONTH}|\b{_WEEKDAY}\b|\b\d{{4}}-\d\d-\d\d\b"),
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
TYPE_GROUP = {  # 0 when, 1 count, 2 name: features.matrix's missing_* columns
    **dict.fromkeys(("weekday", "month", "year", "day", "date"), 0),
    **dict.fromkeys(("number", "money", "duration", "ordinal"), 1),
    **dict.fromkeys(("person", "place", "venue", "organization"), 2),
}
YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
MONTHS = "january february march april may june july august september october november december".split()
MONTH_NAME = re.compile(
    r"\b(Jan(?:uary|\.)|Feb(?:ruary|\.)|March|April|May|June|July|Aug(?:ust|\.)|Sept?(?:ember|\.)"
    r"|Oct(?:ober|\.)|Nov(?:ember|\.)|Dec(?:ember|\.))"
)
QUARTER = re.compile(r"\b(first|second|third|fourth|1st|2nd|3rd|4th) quarter\b|\bQ([1-4])\b", re.I)
_QUARTERS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
BLANK = re.compile(r"_{2,}")
# A sentence opening with "Therefore," or "In this way," leans on the one before: to a "why" or "how"
# question it is not the answer alone (the reason or the way is in the sentence before), the pair is.
ANAPHORIC_OPENER = re.compile(
    r"^[\"“']?(therefore|thus|hence|as a result|in this way|in this sense|that is why|this is why|for this reason)\b",
    re.I,
)
REASON_OR_MANNER = re.compile(r"\b(why|how(?! (many|much|long|old|large|big|often|far)\b))\b", re.I)


def expected_type(question: str) -> str | None:
    """The kind of thing the question asks for, when its wording says so (a number, a date, a person ...)."""
    q = question.lower()
    if YES_NO.match(q):
        return None
    return next((name for name, pattern in QUESTION_TYPES if re.search(pattern, q)), None)


def question_ordinals(question: str) -> set[str]:
    """Editions a wh-question presupposes ("the second forum"); a yes/no question may be asking about one."""
    return set() if YES_NO.match(question.lower()) else {m.group().lower() for m in ORDINAL.finditer(question)}


@lru_cache(maxsize=1)
def _stem():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def content_words(text: str) -> set[str]:
    stem = _stem()
    return {stem(w) for w in WORD.findall(text.lower()) if len(w) > 1 and w not in STOP}


def lexical_overlap(question_words: AbstractSet[str], sentence_words: Sequence[AbstractSet[str]]) -> list[float]:
    """Share of the question's words each sentence contains, rarer words (among the candidates) counting more."""
    if not question_words:
        return [0.0] * len(sentence_words)
    n = len(sentence_words)
    weight = {w: np.log(1 + n / (1 + sum(w in s for s in sentence_words))) for w in question_words}
    total = sum(weight.values())
    return [sum(weight[w] for w in question_words & s) / total for s in sentence_words]


# --- what a text pins down ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """The cues of one text, computed once per distinct text (sentences recur across questions)."""

    words: frozenset[str]
    names: frozenset[str]  # capitalised words, lower-cased ("NBA", "Texas")
    years: frozenset[str]
    months: frozenset[int]
    quarters: frozenset[int]
    ordinals: frozenset[str]
    numbers: frozenset[str]


def _month(token: str) -> int:
    return next(i for i, m in enumerate(MONTHS, 1) if m.startswith(token.lower().rstrip(".")[:3]))


@lru_cache(maxsize=50_000)
def profile(text: str) -> Profile:
    return Profile(
        words=frozenset(content_words(text)),
        names=frozenset(w.lower() for w in CAPITALISED.findall(text) if w.lower() not in STOP),
        years=frozenset(YEAR.findall(text)),
        months=frozenset(_month(m) for m in MONTH_NAME.findall(text)),
        quarters=frozenset(_QUARTERS.get(a.lower(), 0) or int(b or 0) for a, b in QUARTER.findall(text)),
        ordinals=frozenset(m.group().lower() for m in ORDINAL.finditer(text)),
        numbers=frozenset(n.replace(",", "") for n in NUMBER.findall(text)),
    )


@dataclass
class QuestionCues:
    """What the question asks for and pins down."""

    text: str
    vector: np.ndarray
    kind: str | None
    words: set[str]
    names: set[str]  # capitalised words after the first one
    years: set[str]
    months: set[int]
    quarters: set[int]
    ordinals: set[str]
    numbers: set[str]  # numbers other than years
    yes_no: bool
    reason_or_manner: bool
    statement: bool  # a fill-in-the-blank or a statement ("This diet was ranked best ___.")
    idf: dict[str, float] = field(default_factory=dict)  # the question's words: rarity in the corpus, 0-1
    # (BM25's stopwords left out; a word the corpus never uses counts 1)
    unknown: int = 0  # question words the corpus never uses
    scope: TimeScope | None = None  # what the question says about time, as of the date it is asked

    @classmethod
    def of(
        cls, question: str, vector: np.ndarray, retriever: Retriever | None = None, as_of: date | None = None
    ) -> QuestionCues:
        p = profile(question)
        first = CAPITALISED.match(question)
        names = {w.lower() for w in CAPITALISED.findall(question[first.end() if first else 0 :])} - STOP
        return cls(
            text=question,
            vector=vector,
            kind=expected_type(question),
            words=set(p.words),
            names=names,
            years=set(p.years),
            months=set(p.months),
            quarters=set(p.quarters),
            ordinals=question_ordinals(question),
            numbers=set(p.numbers) - set(p.years),
            yes_no=bool(YES_NO.match(question.lower())),
            reason_or_manner=bool(REASON_OR_MANNER.search(question)),
            statement=bool(BLANK.search(question)) or not question.rstrip().endswith("?"),
            scope=time_scope(question, as_of) if as_of is not None else None,
        )._with_idf(retriever)

    def _with_idf(self, retriever: Retriever | None) -> QuestionCues:
        """Corpus rarity of each question word, from the BM25 index's document frequencies, as a share of
        the rarest possible (a word in one passage): 1 for the rarest, near 0 for a word every passage has."""
        df = retriever.lexical.document_frequency(self.words) if retriever is not None else {}
        if not df:
            self.idf = {w: 1.0 for w in self.words}
            return self
        n = retriever.lexical.size if retriever is not None else 1
        top = math.log(1 + (n - 0.5) / 1.5)
        # a word no passage holds is missing from every extract: it counts as the rarest kind
        self.idf = {w: min(1.0, math.log(1 + (n - f + 0.5) / (f + 0.5)) / top) for w, f in df.items()}
        self.unknown = sum(1 for f in df.values() if not f)
        return self


# --- candidates --------------------------------------------------------------------------------------
@dataclass
class Candidate:
    hit: Hit
    passage: int  # index of its hit in the list the candidates were made from
    start: int  # in the article
    end: int
    vectors: np.ndarray  # one row per sentence: one, or two for an adjacent pair
    text: str = ""
    first: bool = False  # the first sentence of its article
    score: float = 0.0
    rank: float = 0.0  # what orders the extracts when it differs from the score (qa.rules)
    judged: np.ndarray | None = None  # its cues for the rules' confidence (qa.rules.CUES)
    tokens: np.ndarray | None = None  # its content word pieces (qa.tokens); None when the index has none
    late: float = 0.0  # their late interaction with the question's (qa.rules; 0 when not computed)


def candidates(retriever: Retriever, hits: list[Hit]) -> list[Candidate]:
    """Every sentence of the passages, then every pair of adjacent sentences (one passage holding both)."""
    from qa import tokens as qa_tokens  # qa.tokens reads this module's stopwords

    seen: set[tuple[str, int]] = set()
    singles: list[Candidate] = []
    for n, hit in enumerate(hits):
        article = retriever.article(hit.article_id)
        if article is None:
            continue
        for start, end, vector, pieces in retriever.catalog.sentences_in(hit.article_id, hit.start, hit.end):
            if start == 0 and article.text[:end] == article.title:
                continue  # the headline names the story; an answer is a sentence of it
            if (hit.article_id, start) in seen:
                continue  # a sentence shared by overlapping passages competes once
            seen.add((hit.article_id, start))
            first = not article.text[:start].strip() or article.text[:start].strip() == article.title
            tokens = qa_tokens.from_bytes(pieces) if pieces is not None else None
            singles.append(
                Candidate(hit, n, start, end, vector.reshape(1, -1), article.text[start:end], first, tokens=tokens)
            )
    return singles + _pairs(retriever, singles)


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
        owner = a if b.end <= a.hit.end else b if a.start >= b.hit.start else None
        if owner is not None:  # the passage shown must hold both sentences
            vectors = np.vstack([a.vectors, b.vectors])
            text = article.text[a.start : b.end]
            both = np.vstack([a.tokens, b.tokens]) if a.tokens is not None and b.tokens is not None else None
            out.append(Candidate(owner.hit, owner.passage, a.start, b.end, vectors, text, a.first, tokens=both))
    return out


# --- the feature rows --------------------------------------------------------------------------------
FEATURES = (
    "cos",  # cosine of question and sentence (a pair: its closer sentence)
    "cos_other",  # a pair's other sentence (a single sentence: its own cosine again)
    "cos_gap",  # cos less the best cos among all candidates
    "passage_cos",
    "passage_bm25",  # BM25 of the passage over the best BM25 of the question
    "passage_fused",  # fused retrieval score over the best one
    "passage_rank",  # log of the fused rank
    "lex",  # share of the question's words in the extract, rarer ones weighing more
    "lex_gap",
    "lex_passage",  # the same for the whole passage
    "idf_miss",  # share of the question's corpus rarity (IDF) the extract lacks
    "idf_miss_article",  # ... the article lacks
    "max_miss_article",  # the rarest question word the article lacks (0: it has them all)
    "q_unknown",  # question-level: words the corpus never uses (log)
    "names",  # share of the question's capitalised words in the extract
    "names_article",  # ... in the article
    "new_names",  # capitalised words of the extract the question lacks (where a name answer would be)
    "new_numbers",  # numbers of the extract the question lacks
    "novel",  # share of the extract's words the question lacks
    "type_expected",
    "type_found",
    "missing_when",  # a weekday, month, year, date asked for and none in the extract (precise patterns)
    "missing_count",  # a number, sum of money, duration or ordinal asked for and none
    "missing_name",  # a person, place, venue or organisation asked for and none (rough patterns)
    "year_match",
    "year_conflict",  # the question names a year; the extract names years, none of them
    "year_article",  # the question's year is the article's (date or text)
    "year_article_conflict",  # the article is dated another year and never names the question's
    "month_match",
    "month_conflict",
    "month_article",  # the question's month is the month the article is dated
    "quarter_match",
    "quarter_conflict",
    "ordinal_match",
    "ordinal_missing",  # "the second forum" and an extract that names no second
    "number_match",
    "number_missing",
    "pair",
    "length",  # log characters
    "first",  # the article's first sentence
    "anaphora",  # a why/how question and a lone "Therefore, ..." sentence
    "q_statement",  # question-level: a statement or fill-in-the-blank
    "q_yes_no",
    "q_typed",
    "q_pins",  # the question names a year, month, quarter, edition or number
    # time, as of the date the question is asked (qa.dates; 0 without one)
    "time_explicit",  # 1 the article or extract is in a period the question names, -1 both point elsewhere
    "time_recency",  # a "latest"/"next"/"this week" question: 1 for a report of the asking day, falling
    "time_older",  # how much older the article is than the newest report among the passages (log days;
    # an extract that fits a period or names an edition the question asks for: among those that fit)
    "time_forward",  # a "next"/"upcoming" question: 1 the extract names the asking year or later, -1 earlier
    "forward_missing",  # a question about what is to come and an extract that speaks of nothing to come
    "q_relative",
    "q_explicit",
)
INDEX = {name: i for i, name in enumerate(FEATURES)}


def _share(wanted: set[str], found: frozenset[str] | set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


ArticleCues = tuple[Profile, str, int]  # the article's cues, the year and the month it is dated


def _article_cues(retriever: Retriever, article_id: str, cache: dict[str, ArticleCues]) -> ArticleCues:
    if article_id not in cache:
        article = retriever.article(article_id)
        text = article.text if article else ""
        date = (article.date or "") if article else ""
        month = int(date[5:7]) if re.match(r"\d{4}-\d\d", date) else 0
        cache[article_id] = (profile(text[:20_000]), date[:4], month)
    return cache[article_id]


ABOUT = 0.5  # a passage whose fused score is at least this share of the best one's is about the question


def matrix(retriever: Retriever, q: QuestionCues, cands: list[Candidate], hits: list[Hit]) -> np.ndarray:
    """One feature row per candidate, in FEATURES order."""
    n = len(cands)
    X = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if not n:
        return X
    profiles = [profile(c.text) for c in cands]
    passage_profiles = [profile(h.text) for h in hits]
    lex = lexical_overlap(q.words, [p.words for p in profiles])
    lex_passage = lexical_overlap(q.words, [p.words for p in passage_profiles])
    dense_floor = min((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    best_bm25 = max((h.bm25_score or 0.0 for h in hits), default=0.0) or 1.0
    best_fused = max(h.score for h in hits)
    cos = [c.vectors @ q.vector for c in cands]
    top = [float(np.max(v)) for v in cos]
    other = [float(np.min(v)) for v in cos]
    best_cos, best_lex = max(top), max(lex)
    kind = ANSWER_TYPES.get(q.kind) if q.kind else None
    articles: dict[str, ArticleCues] = {}
    pins = bool(q.years or q.months or q.quarters or q.ordinals or q.numbers)
    idf_total = sum(q.idf.values()) or 1.0
    unknown = math.log1p(q.unknown)
    scope = q.scope
    timed = [time_features(scope, h.date) for h in hits] if scope is not None else []
    newest = min((t.days_before for t in timed if t.days_before is not None and t.days_before >= 0), default=0)
    # a question that names a period or an edition ("in 2019", "the fourth forum") wants the newest report
    # of that, not the newest report: an extract that fits is aged against the newest passage that fits and
    # is about the question (an unrelated article of that year, far down the fused scores, does not count)
    fitting: list[int] = []
    if scope is not None and (scope.explicit or q.ordinals):
        fitting = [
            t.days_before
            for h, t, p in zip(hits, timed, passage_profiles)
            if t.days_before is not None
            and t.days_before >= 0
            and h.score >= ABOUT * best_fused
            and (t.explicit > 0 or time_features(scope, h.date, h.text).explicit > 0 or q.ordinals & p.ordinals)
        ]
    newest_fitting = min(fitting, default=newest)
    for i, (c, p) in enumerate(zip(cands, profiles)):
        h = c.hit
        art, art_year, art_month = _article_cues(retriever, h.article_id, articles)
        row = X[i]
        row[0], row[1], row[2] = top[i], other[i], top[i] - best_cos
        row[3] = h.dense_score if h.dense_score is not None else dense_floor
        row[4] = (h.bm25_score or 0.0) / best_bm25
        row[5] = max(h.score, 0.0) / best_fused if best_fused > 0 else 0.0
        row[6] = math.log(c.passage + 1)
        row[7], row[8], row[9] = lex[i], lex[i] - best_lex, lex_passage[c.passage]
        row[10] = sum(v for w, v in q.idf.items() if w not in p.words) / idf_total
        missing = [v for w, v in q.idf.items() if w not in art.words]
        row[11] = sum(missing) / idf_total
        row[12] = max(missing, default=0.0)
        row[13] = unknown
        row[14] = _share(q.names, p.names)
        row[15] = _share(q.names, art.names)
        row[16] = math.log1p(len(p.names - q.names))
        row[17] = math.log1p(len(p.numbers - q.numbers - q.years))
        row[18] = len(p.words - q.words) / max(1, len(p.words))
        if kind is not None:
            row[19] = 1.0
            row[20] = 1.0 if kind.search(c.text) else 0.0
            row[21 + TYPE_GROUP[q.kind or ""]] = 1.0 - row[20]
        if q.years:
            row[24] = 1.0 if q.years & p.years else 0.0
            row[25] = 1.0 if p.years and not q.years & p.years else 0.0
            in_article = bool(q.years & art.years) or art_year in q.years
            row[26] = 1.0 if in_article else 0.0
            row[27] = 1.0 if art_year and not in_article else 0.0
        if q.months:
            row[28] = 1.0 if q.months & p.months else 0.0
            row[29] = 1.0 if p.months and not q.months & p.months else 0.0
            row[30] = 1.0 if art_month in q.months else 0.0
        if q.quarters:
            row[31] = 1.0 if q.quarters & p.quarters else 0.0
            row[32] = 1.0 if p.quarters and not q.quarters & p.quarters else 0.0
        if q.ordinals:
            row[33] = 1.0 if q.ordinals & p.ordinals else 0.0
            row[34] = 0.0 if q.ordinals <= p.ordinals else 1.0
        if q.numbers:
            row[35] = _share(q.numbers, p.numbers)
            row[36] = 1.0 - row[35]
        row[37] = float(len(c.vectors) - 1)
        row[38] = math.log(max(len(c.text), 1))
        row[39] = 1.0 if c.first else 0.0
        row[40] = 1.0 if q.reason_or_manner and len(c.vectors) == 1 and ANAPHORIC_OPENER.match(c.text) else 0.0
        row[41] = 1.0 if q.statement else 0.0
        row[42] = 1.0 if q.yes_no else 0.0
        row[43] = 1.0 if q.kind else 0.0
        row[44] = 1.0 if pins else 0.0
        if scope is not None:
            t = time_features(scope, h.date, c.text)
            row[45], row[46], row[48] = t.explicit, t.recency, t.forward
            since = newest_fitting if t.explicit > 0 or row[33] > 0 else newest
            if t.days_before is not None and t.days_before >= since:
                row[47] = min(1.0, math.log1p(t.days_before - since) / LOG_DECADE)
            row[49] = 1.0 if scope.forward and not FUTURE.search(c.text) else 0.0
            row[50] = 1.0 if scope.relative else 0.0
            row[51] = 1.0 if scope.explicit else 0.0
    return X
