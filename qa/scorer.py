"""The learned answer scorer: three small linear models read from a JSON weights file.

- candidate: a ranking score of each sentence or pair from the features of `qa.features` (its softmax over
  the question's extracts is the probability that this one holds the answer: a listwise ranker);
- passage: the reranker, P(this passage's article is the one that answers), from the passage's best
  candidate and its retrieval scores;
- confidence: P(the chosen extract is right), calibrated on the chosen extracts of the training
  questions (answerable or not); "no answer" is a threshold on it.

`eval/train.py` writes qa/weights/answer.json (with the data it was trained on and its cross-validated numbers).
Scoring is plain numpy: no scikit-learn at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import QAError
from qa.features import FEATURES, INDEX

WEIGHTS = Path(__file__).parent / "weights" / "answer.json"
RERANK = 30  # fused passages the reranker reorders; their sentences all compete for the extract
# passage-level features of the reranker, in order
PASSAGE_FEATURES = (
    "best",
    "best_gap",
    "passage_cos",
    "passage_bm25",
    "passage_fused",
    "passage_rank",
    "lex_passage",
    "idf_miss_article",
    "max_miss_article",
    "names_article",
    "year_article",
    "year_article_conflict",
    "month_article",
)
# the confidence model reads the chosen extract's score, its lead over the runner-up, its passage's
# reranker score, and these of its own features (what it and its article leave of the question unexplained)
FROM_EXTRACT = (
    "cos",
    "lex",
    "idf_miss",
    "idf_miss_article",
    "max_miss_article",
    "q_unknown",
    "names",
    "names_article",
    "type_expected",
    "type_found",
    "missing_when",
    "missing_count",
    "missing_name",
    "ordinal_missing",
    "number_missing",
    "year_conflict",
    "year_article_conflict",
    "q_statement",
)
CONFIDENCE_FEATURES = ("best", "margin", "passage", *FROM_EXTRACT)


EXCLUDE = ("anaphora",)
EXCLUDED = -30.0  # the logit of an extract a rule excludes: it can win only when nothing else is left


class WeightsError(QAError):
    """The weights file is missing, damaged or made for other features."""


@dataclass
class Linear:
    """Standardise, then a dot product: a logistic regression's logit, or the listwise ranker's score."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_dict(cls, d: dict[str, Any], width: int) -> Linear:
        out = cls(
            np.asarray(d["mean"], dtype=np.float64),
            np.asarray(d["scale"], dtype=np.float64),
            np.asarray(d["coef"], dtype=np.float64),
            float(d["intercept"]),
        )
        if not (out.mean.shape == out.scale.shape == out.coef.shape == (width,)) or not np.all(out.scale > 0):
            raise ValueError(f"expected {width} weights")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": [round(float(x), 6) for x in self.mean],
            "scale": [round(float(x), 6) for x in self.scale],
            "coef": [round(float(x), 6) for x in self.coef],
            "intercept": round(float(self.intercept), 6),
        }

    def logit(self, X: np.ndarray) -> np.ndarray:
        out: np.ndarray = ((np.asarray(X, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        return out


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
    return out


@dataclass
class Ranked:
    """One question's candidates scored: the passages reordered, the best extract and its confidence."""

    logits: np.ndarray  # per candidate
    order: list[int]  # passage indices, best first
    best: int  # candidate index of the extract (-1: no candidate)
    confidence: float


@dataclass
class Scorer:
    candidate: Linear
    passage: Linear
    confidence: Linear
    threshold: float  # the confidence below which the answer is "the corpus does not answer"
    meta: dict[str, Any]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scorer:
        names = [tuple(d.get(key) or ()) for key in ("features", "passage_features", "confidence_features")]
        if names != [FEATURES, PASSAGE_FEATURES, CONFIDENCE_FEATURES]:
            raise ValueError("made for other features: run `python eval/train.py`")
        return cls(
            Linear.from_dict(d["candidate"], len(FEATURES)),
            Linear.from_dict(d["passage"], len(PASSAGE_FEATURES)),
            Linear.from_dict(d["confidence"], len(CONFIDENCE_FEATURES)),
            float(d["threshold"]),
            {k: v for k, v in d.items() if k not in ("candidate", "passage", "confidence", "threshold")},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "passage_features": list(PASSAGE_FEATURES),
            "confidence_features": list(CONFIDENCE_FEATURES),
            **{k: v for k, v in self.meta.items() if k not in ("features", "passage_features", "confidence_features")},
            "threshold": round(self.threshold, 6),
            "candidate": self.candidate.to_dict(),
            "passage": self.passage.to_dict(),
            "confidence": self.confidence.to_dict(),
        }

    def rank(self, X: np.ndarray, passage_of: np.ndarray, passages: int) -> Ranked:
        """Score the candidates (feature rows X; passage_of[i]: the passage of candidate i), reorder the
        passages, pick the extract and say how sure it is."""
        if not len(X):
            return Ranked(np.zeros(0), list(range(passages)), -1, 0.0)
        logits = extract_logits(self.candidate, X)
        P = passage_matrix(X, logits, passage_of, passages)
        scores = self.passage.logit(P)
        order = sorted(range(passages), key=lambda j: -scores[j])
        best = int(np.argmax(logits))
        if logits[best] <= EXCLUDED:  # every extract is excluded: none answers
            return Ranked(logits, order, best, 0.0)
        C = confidence_row(X, logits, best, scores[passage_of[best]])
        return Ranked(logits, order, best, float(sigmoid(self.confidence.logit(C[None, :]))[0]))


def extract_logits(candidate: Linear, X: np.ndarray) -> np.ndarray:
    """The ranker's score of each extract, less the ones a rule excludes."""
    logits = candidate.logit(X)
    # Rules, not weights (too rare in news to be learned, and never wrong on the sets measured): a lone
    # "Therefore, ..." does not answer a why/how question (the reason is in the sentence before, and the
    # pair holding both competes instead).
    excluded = np.any(X[:, [INDEX[name] for name in EXCLUDE]] > 0, axis=1)
    logits[excluded] = EXCLUDED
    return logits


def passage_matrix(X: np.ndarray, logits: np.ndarray, passage_of: np.ndarray, passages: int) -> np.ndarray:
    """One row per passage: its best candidate (absolute, and against the question's best) and its retrieval."""
    P = np.zeros((passages, len(PASSAGE_FEATURES)))
    best = np.full(passages, -30.0)
    first = np.full(passages, -1)
    for i, j in enumerate(passage_of):
        if logits[i] > best[j]:
            best[j] = logits[i]
        if first[j] < 0:
            first[j] = i
    top = float(np.max(logits)) if len(logits) else 0.0
    for j in range(passages):
        P[j, 0], P[j, 1] = best[j], best[j] - top
        i = first[j]
        if i >= 0:  # retrieval features are the passage's, the same on each of its candidates
            for k, name in enumerate(PASSAGE_FEATURES[2:], 2):
                P[j, k] = X[i, INDEX[name]]
        else:
            P[j, 5] = np.log(j + 1)
    return P


def confidence_row(X: np.ndarray, logits: np.ndarray, best: int, passage_score: float) -> np.ndarray:
    rest = np.delete(logits, best)
    margin = float(logits[best] - rest.max()) if len(rest) else 5.0
    return np.array([logits[best], min(margin, 5.0), passage_score, *(X[best, INDEX[name]] for name in FROM_EXTRACT)])


def load(path: Path | str | None = None) -> Scorer:
    """The weights file (default: the one shipped beside this module), read once."""
    return _load(str(path or WEIGHTS))


@lru_cache(maxsize=4)
def _load(path: str) -> Scorer:
    try:
        return Scorer.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"the answer weights {path} cannot be used ({e}); reinstall qa or run eval/train.py") from e
