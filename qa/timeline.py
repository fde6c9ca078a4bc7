"""A question's evidence in date order: one best sentence per article, for "how did X develop" questions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

from qa.dates import annotate_relative, article_ordinal
from qa.filters import Filters
from qa.retrieve import Retriever, check_question


@dataclass
class Evidence:
    date: str | None  # the article's date (YYYY-MM-DD, or --MM-DD when only month and day are known)
    outlet: str | None
    title: str
    path: str
    article_id: str
    text: str  # the article's sentence that best matches the question, verbatim
    dated_text: str  # the same with relative dates resolved: "on Friday (2019-07-19)"
    start: int  # offsets of `text` in the article
    end: int
    score: float  # the passage's retrieval score

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def timeline(
    retriever: Retriever, question: str, k: int = 20, filters: Filters | None = None, as_of: date | None = None
) -> list[Evidence]:
    """The k best passages' articles, each with its sentence closest to the question, oldest first;
    undated articles come last, in rank order."""
    question = check_question(question)
    vector = retriever.embed(question)
    out: dict[str, Evidence] = {}
    for hit in retriever.search(question, k=k, vector=vector, filters=filters, as_of=as_of):
        article = retriever.article(hit.article_id)
        if article is None or hit.article_id in out:
            continue  # an article's best passage comes first
        sentences = [  # the headline names the story; the evidence is a sentence of it
            s
            for s in retriever.catalog.sentences_in(hit.article_id, hit.start, hit.end)
            if not (s[0] == 0 and article.text[: s[1]] == article.title)
        ]
        if sentences:
            start, end = max(sentences, key=lambda s: float(np.dot(s[2], vector)))[:2]
        else:
            start, end = hit.start, hit.end
        text = article.text[start:end]
        out[hit.article_id] = Evidence(
            hit.date,
            hit.outlet,
            hit.title,
            hit.path,
            hit.article_id,
            text,
            annotate_relative(text, hit.date),
            start,
            end,
            round(hit.score, 4),
        )
    undated = [e for e in out.values() if article_ordinal(e.date) is None]
    dated = sorted((e for e in out.values() if article_ordinal(e.date) is not None), key=lambda e: e.date or "")
    return dated + undated
