"""BM25: questions are scored from bm25s's saved arrays without importing bm25s; the scores must be bm25s's own."""

from __future__ import annotations

import numpy as np

from qa.indexformat import FreshnessTag
from qa.lexical import Lexical, tokenizer

TEXTS = [
    "The third China-Russia Internet Media Forum opened in Wuxi on Thursday.",
    "The next forum will be hosted by Taganrog, Russia, in 2021.",
    "More than 40 representatives attended the video conference on media cooperation.",
    "Wuxi is a city in Jiangsu province; its forums draw media from both countries.",
    "Digital media cooperation should inject vitality into the strategic partnership, he said.",
]
QUESTIONS = [
    "Where is the next forum hosted?",
    "How many representatives attended the conference?",
    "media media cooperation forum forums Wuxi",  # repeated and inflected words
    "the of and",  # stopwords only
    "zeppelin quasar",  # words the index never saw
]


def test_saved_scores_match_bm25s(tmp_path):
    import bm25s

    ids = [10, 11, 12, 13, 14]
    tag = FreshnessTag("t", 1, len(ids))
    Lexical.build(ids, TEXTS).save(tmp_path, tag)
    ours = Lexical.load(tmp_path, tag)
    reference = bm25s.BM25.load(tmp_path / "bm25", show_progress=False)
    words = tokenizer()
    words.load_vocab(tmp_path / "bm25")
    words.load_stopwords(tmp_path / "bm25")
    for question in QUESTIONS:
        tokens = words.tokenize([question], update_vocab=False, return_as="ids", show_progress=False)
        expected = reference.get_scores(tokens[0]) if any(tokens[0]) else np.zeros(len(ids))
        got = dict(ours.search(question, k=len(ids)))
        for doc, score in enumerate(expected):
            assert abs(got.get(ids[doc], 0.0) - score) < 1e-5, question
    assert ours.search("zeppelin quasar", 3) == [] and ours.search("the of and", 3) == []


def test_a_mask_keeps_the_k_best_allowed_documents():
    lexical = Lexical.build([1, 2, 3, 4, 5], TEXTS)
    allowed = np.array([False, True, False, True, True])
    hits = lexical.search("forum Wuxi media", k=2, allowed=allowed)
    assert len(hits) == 2 and {cid for cid, _ in hits} <= {2, 4, 5}
    assert hits[0][1] >= hits[1][1]
