"""The hand-weighted answer score (issue 5), the default scorer: meaning, shared words, the passage's rank,
less penalties for a missing answer type or edition; its score is mapped to a probability (Platt scaling,
eval/calibrate.py) so answers carry a calibrated confidence like the learned scorer's (qa.scorer)."""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa import features
from qa.dates import FUTURE
from qa.errors import QAError
from qa.features import ANAPHORIC_OPENER, ANSWER_TYPES, ORDINAL, REASON_OR_MANNER, Candidate
from qa.retrieve import Hit, Retriever

PASSAGES = 5  # top passages whose sentences compete for the extract
# The release criterion applied to the two tuning sets together (eval/questions.jsonl and
# questions-holdout.jsonl, 77 answerable questions): the best-sentence score below which 5 % of them
# (3) fall. Grid over the score weights too; see eval/README.md.
SCORE_THRESHOLD = 0.3258
PAIR_PENALTY = 0.02  # two adjacent sentences win only when together they answer clearly better
TYPE_PENALTY = 0.2  # the sentence holds no thing of the kind asked for (no number for "how many" ...)
ORDINAL_PENALTY = 0.2  # the question names an edition ("the second forum") the sentence does not
ANAPHORA_PENALTY = 0.05  # "Therefore, ..." alone does not answer a why/how question
# "Where will the next summit be held?" is not answered by "The summit was held in Riga": a question about
# what is to come wants a sentence that speaks of it ("will", "next", "to host", "scheduled" ...)
FORWARD_PENALTY = 0.2
# a question about what is to come ("next-generation" and "next to" are not)
FORWARD = re.compile(r"\b(next|upcoming|will|going to|scheduled|planned|set to)\b(?!-)(?! to\b)", re.I)
CALIBRATION = Path(__file__).with_name("weights") / "rules.json"


def scored(retriever: Retriever, question: str, vector: np.ndarray, hits: list[Hit]) -> list[Candidate]:
    """Every sentence (and adjacent pair) of the top passages, with its score."""
    candidates = features.candidates(retriever, hits[:PASSAGES])
    if not candidates:
        return []
    kind = features.expected_type(question)
    ordinals = features.question_ordinals(question)
    reason_or_manner = bool(REASON_OR_MANNER.search(question))
    forward = bool(FORWARD.search(question))
    lexical = features.lexical_overlap(
        features.content_words(question), [features.content_words(c.text) for c in candidates]
    )
    best_hit = max(h.score for h in hits)
    for c, lex in zip(candidates, lexical):
        dense = float(np.max(c.vectors @ vector))
        passage = max(c.hit.score, 0.0) / best_hit if best_hit > 0 else 0.0  # no bonus when nothing matches
        c.score = 0.45 * dense + 0.15 * lex + 0.1 * passage - PAIR_PENALTY * (len(c.vectors) - 1)
        if kind and not ANSWER_TYPES[kind].search(c.text):
            c.score -= TYPE_PENALTY
        if ordinals and not ordinals <= {m.group().lower() for m in ORDINAL.finditer(c.text)}:
            c.score -= ORDINAL_PENALTY
        if reason_or_manner and len(c.vectors) == 1 and ANAPHORIC_OPENER.match(c.text):
            c.score -= ANAPHORA_PENALTY
        if forward and not FUTURE.search(c.text):
            c.score -= FORWARD_PENALTY
    return candidates


@lru_cache(maxsize=1)
def _calibration() -> tuple[float, float]:
    try:
        data = json.loads(CALIBRATION.read_text())
        return float(data["a"]), float(data["b"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QAError(f"the answer calibration {CALIBRATION} cannot be read ({e}): reinstall qa") from e


def confidence(score: float) -> float:
    """The probability that the extract with this score answers the question (Platt scaling)."""
    a, b = _calibration()
    return 1.0 / (1.0 + math.exp(-(a * score + b)))


def threshold() -> float:
    """The confidence below which nothing answers: the score threshold, mapped like any score."""
    return confidence(SCORE_THRESHOLD)
