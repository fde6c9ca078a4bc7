"""Late interaction (qa.tokens): word pieces stored with each sentence at index time, from the real model's
run, and the MaxSim that re-ranks the best extracts (qa.rules)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

from qa import rules, tokens
from qa.indexformat import CATALOG, SCHEMA_VERSION
from qa.retrieve import Retriever
from qa.store import Catalog
from qa.sync import Indexer

from .conftest import ROOT, HashEmbedder

ARTICLE = {
    "title": "Bridge reopens",
    "date": "2024-05-02",
    "text": "The old bridge over the Vistula reopened on Monday. Its repair cost 40 million zloty. "
    "The work was led by the engineer Anna Berg.",
}


def index(tmp_path: Path, embedder, articles=(ARTICLE,)) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "news.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    Indexer(corpus, tmp_path / "index", embedder).run()
    return tmp_path / "index"


def stored_pieces(folder: Path) -> list[bytes | None]:
    db = sqlite3.connect(folder / CATALOG)
    try:
        return [row[0] for row in db.execute("SELECT tokens FROM sentences ORDER BY start")]
    finally:
        db.close()


def test_content_pieces_are_words_not_stopwords_or_punctuation() -> None:
    assert tokens.content(["the", "bridge", "reopened", "on", "monday", ".", "##ly", "vist"]) == [1, 2, 4, 7]


def test_each_sentence_stores_its_content_pieces_as_int8_rows(tmp_path, embedder) -> None:
    pieces = stored_pieces(index(tmp_path, embedder))
    assert len(pieces) == 3 and all(p is not None for p in pieces)
    first = tokens.from_bytes(pieces[0])  # type: ignore[arg-type]
    # "old", "bridge", "vistula" (a word start) ... "reopened", "monday": not "the", "over", "on", "."
    assert first.dtype == np.int8 and 5 <= len(first) <= 7
    norms = np.linalg.norm(first.astype(np.float32) / tokens.SCALE, axis=1)
    assert np.allclose(norms, 1.0, atol=0.02)


def test_a_changed_article_keeps_the_pieces_of_its_unchanged_sentences(tmp_path, embedder) -> None:
    folder = index(tmp_path, embedder)
    before = stored_pieces(folder)
    changed = dict(ARTICLE, text=ARTICLE["text"] + " Traffic returns next week.")
    (tmp_path / "corpus" / "news.jsonl").write_text(json.dumps(changed) + "\n", encoding="utf-8")
    report = Indexer(tmp_path / "corpus", folder, embedder).run()
    after = stored_pieces(folder)
    assert report.sentences_embedded == 1  # only the new sentence ran through the model
    assert after[:3] == before and after[3] is not None


def test_maxsim_finds_the_sentence_that_says_it_in_other_words(tmp_path, embedder) -> None:
    """The question's "crossing ... open again" shares no word with "bridge ... reopened": the pieces match."""
    r = Retriever(index(tmp_path, embedder), embedder)
    try:
        asked = r.question_tokens("When did the crossing open again?")
        assert asked is not None and len(asked) == 3  # "crossing", "open", "again"
        article = r.article("news.jsonl#1")
        assert article is not None
        sims = {
            article.text[a:b]: tokens.maxsim(asked, tokens.from_bytes(t))  # type: ignore[arg-type]
            for a, b, _, t in r.catalog.sentences_in(article.id, 0, len(article.text))
        }
    finally:
        r.close()
    best = max(sims, key=lambda s: sims[s])
    assert best == "The old bridge over the Vistula reopened on Monday."
    assert all(0 < v < sims[best] - 0.2 for s, v in sims.items() if s != best)


def test_the_best_extracts_gain_their_late_interaction(tmp_path, embedder, monkeypatch) -> None:
    """The LATE_TOP best candidates' rank holds LATE_WEIGHT x MaxSim (less LATE_PAIR for a pair)."""
    weight, pair_penalty = rules.LATE_WEIGHT, rules.LATE_PAIR
    r = Retriever(index(tmp_path, embedder), embedder)
    try:
        question = "Who oversaw the project?"
        vector = r.embed(question)
        hits = r.search(question, k=5, vector=vector)
        scored = {(c.start, c.end): c for c in rules.scored(r, question, vector, hits)}
        monkeypatch.setattr(rules, "LATE_WEIGHT", 0.0)
        monkeypatch.setattr(rules, "LATE_PAIR", 0.0)
        plain = {(c.start, c.end): c for c in rules.scored(r, question, vector, hits)}
    finally:
        r.close()
    gained = [c for key, c in scored.items() if c.rank != plain[key].rank]
    assert 0 < len(gained) <= rules.LATE_TOP
    for c in gained:
        pair = pair_penalty if len(c.vectors) > 1 else 0.0
        assert c.late > 0 and abs(c.rank - plain[(c.start, c.end)].rank - (weight * c.late - pair)) < 1e-9
    best = max(scored.values(), key=lambda c: c.rank)
    assert best.text == "The work was led by the engineer Anna Berg."


def test_an_index_without_pieces_is_ranked_as_before(tmp_path) -> None:
    """A stand-in embedder gives no pieces (nor does an index built before they were stored): no late term."""
    embedder = HashEmbedder()
    folder = index(tmp_path, embedder)
    assert stored_pieces(folder) == [None, None, None]
    r = Retriever(folder, embedder)
    try:
        question = "Who led the work on the bridge?"
        vector = r.embed(question)
        scored = rules.scored(r, question, vector, r.search(question, k=5, vector=vector))
    finally:
        r.close()
    assert scored and all(c.late == 0.0 and c.tokens is None for c in scored)


def test_an_index_of_schema_3_gains_the_column_and_keeps_its_vectors(tmp_path) -> None:
    embedder = HashEmbedder()
    folder = index(tmp_path, embedder)
    db = sqlite3.connect(folder / CATALOG)
    db.execute("ALTER TABLE sentences DROP COLUMN tokens")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    again = HashEmbedder()
    Indexer(tmp_path / "corpus", folder, again).run()
    catalog = Catalog(folder)
    try:
        assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert catalog.db.execute("SELECT count(*) FROM sentences WHERE tokens IS NULL").fetchone()[0] == 3
    finally:
        catalog.close()
    assert again.embedded == []  # nothing re-embedded


def test_the_basis_command_fits_a_basis_the_tokens_module_reads(tmp_path, monkeypatch) -> None:
    out = tmp_path / "tokens.json"
    cmd = [sys.executable, str(ROOT / "eval" / "token_basis.py"), "--dims", "8", "--limit", "200", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    monkeypatch.setattr(tokens, "BASIS", out)
    tokens._basis.cache_clear()
    try:
        model, components = tokens._basis()
    finally:
        monkeypatch.undo()
        tokens._basis.cache_clear()
    assert model == "all-MiniLM-L6-v2" and data["dims"] == 8 and components.shape == (8, 384)
    assert np.allclose(components @ components.T, np.eye(8), atol=1e-4)  # orthonormal directions
    assert tokens._basis()[1].shape == (48, 384) and tokens.supported("all-MiniLM-L6-v2")  # the shipped one
