"""Which sentences the indexer embeds: not the headline, which answers and the timeline never use."""

from __future__ import annotations

import json
from pathlib import Path

from qa.store import Catalog
from qa.sync import Indexer

from .conftest import HashEmbedder


def index_one(tmp_path: Path, title: str, body: str) -> tuple[list[str], HashEmbedder, int]:
    """Index one JSON article: its stored sentences, the embedder, and the sentences embedded."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.json").write_text(json.dumps({"title": title, "text": body}))
    embedder = HashEmbedder()
    report = Indexer(corpus, tmp_path / "index", embedder).run()
    catalog = Catalog(tmp_path / "index")
    try:
        article = catalog.article("a.json#1")
        assert article is not None and article.text.startswith(title + "\n")
        spans = catalog.sentences_in(article.id, 0, len(article.text))
        return [article.text[a:b] for a, b, *_ in spans], embedder, report.sentences_embedded
    finally:
        catalog.close()


def test_the_headline_sentence_is_not_embedded(tmp_path: Path) -> None:
    title = "Forum opens in Taganrog"
    sentences, embedder, embedded = index_one(tmp_path, title, "The forum opened on Monday. Ten countries attended.")
    assert sentences == ["The forum opened on Monday.", "Ten countries attended."]
    assert embedded == 2 and title not in embedder.embedded


def test_a_headline_split_into_sentences_keeps_them(tmp_path: Path) -> None:
    # answers skip only a first sentence that is the whole headline: these two can be answers
    sentences, _, embedded = index_one(tmp_path, "Forum opens. Delegates arrive", "The forum opened on Monday.")
    assert sentences == ["Forum opens.", "Delegates arrive", "The forum opened on Monday."]
    assert embedded == 3
