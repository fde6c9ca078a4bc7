"""Incremental indexing bookkeeping: add, change, remove, no-op, interruption, mismatch, lock."""

from __future__ import annotations

import shutil

import pytest

from qa.corpus import staleness
from qa.errors import IndexLocked, IndexMismatch
from qa.retrieve import Retriever
from qa.store import Catalog, WriteLock
from qa.sync import Indexer

from .conftest import DATA, SEEDS, HashEmbedder, Interrupting, ids_agree

PARAGRAPH = "The council met on {day} and agreed item number {n} of the plan for the {thing} after a long debate."


def article(title: str, n: int, thing: str) -> str:
    return title + "\n" + "\n".join(PARAGRAPH.format(day="Monday", n=i, thing=thing) for i in range(n))


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in SEEDS.iterdir():
        shutil.copy(f, folder / f.name)
    for f in (f for f in DATA.iterdir() if f.is_file()):  # subfolders hold other test corpora
        shutil.copy(f, folder / f.name)
    return folder


def run(corpus, index, embedder, **kw):
    return Indexer(corpus, index, embedder, **kw).run()


def test_add_change_remove(corpus, tmp_path, hash_embedder):
    index = tmp_path / "index"
    first = run(corpus, index, hash_embedder)
    assert (first.added, first.changed, first.removed) == (7, 0, 0)  # 2 seeds, html, md, 2 jsonl records, txt
    assert any("malformed JSON" in w for w in first.warnings)

    hash_embedder.embedded.clear()
    again = run(corpus, index, hash_embedder)
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 7)
    assert hash_embedder.embedded == []

    (corpus / "new.txt").write_text(article("Council approves plan", 3, "park"))
    (corpus / "fete.txt").unlink()
    report = run(corpus, index, hash_embedder)
    assert (report.added, report.removed, report.unchanged) == (1, 1, 6)
    assert ids_agree(index)
    catalog = Catalog(index)
    assert catalog.article("fete.txt") is None and catalog.article("new.txt") is not None
    catalog.close()


def test_a_changed_article_reembeds_only_changed_chunks(corpus, tmp_path, hash_embedder):
    index = tmp_path / "index"
    (corpus / "long.txt").write_text(article("Council approves long plan", 30, "harbour"))
    run(corpus, index, hash_embedder)
    catalog = Catalog(index)
    total = catalog.db.execute("SELECT count(*) FROM chunks WHERE article_id='long.txt'").fetchone()[0]
    catalog.close()
    assert total >= 4
    text = (corpus / "long.txt").read_text()
    (corpus / "long.txt").write_text(text.replace("item number 29 of", "item number 2900 of"))
    hash_embedder.embedded.clear()
    report = run(corpus, index, hash_embedder)
    assert report.changed == 1 and report.added == 0
    assert 1 <= report.chunks_embedded < total
    assert report.chunks_reused >= total - 2
    assert ids_agree(index)


def test_no_change_run_loads_no_model(seed_corpus, seed_index, tmp_path):
    from qa.embed import ModelEmbedder

    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    fresh = ModelEmbedder("all-MiniLM-L6-v2")
    report = Indexer(seed_corpus, index, fresh).run()
    assert report.chunks_embedded == 0 and report.unchanged == 2
    assert "model" not in fresh.__dict__  # the model was never loaded


def test_interrupted_run_keeps_a_consistent_index_and_the_next_run_finishes(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(12):
        (corpus / f"a{i:02}.txt").write_text(article(f"Council approves plan {i}", 40, f"thing{i}"))
    index = tmp_path / "index"
    with pytest.raises(KeyboardInterrupt):
        Indexer(corpus, index, Interrupting(after=2), batch_texts=20).run()  # several commits
    catalog = Catalog(index)
    articles, chunks = catalog.counts()
    per_article = catalog.db.execute("SELECT article_id, count(*) FROM chunks GROUP BY article_id").fetchall()
    catalog.close()
    assert 0 < articles < 12 and chunks > 0
    assert len({n for _, n in per_article}) == 1  # every committed article is whole
    assert ids_agree(index)  # a reader rebuilds the stale FAISS file from the catalogue
    done = HashEmbedder()
    report = run(corpus, index, done)
    assert report.added == 12 - articles and report.unchanged == articles
    assert ids_agree(index)


def test_another_model_is_refused_with_the_fix(corpus, tmp_path, hash_embedder):
    index = tmp_path / "index"
    run(corpus, index, hash_embedder)
    other = HashEmbedder()
    other.name = "another-model"
    with pytest.raises(IndexMismatch, match="qa index --rebuild"):
        run(corpus, index, other)
    with pytest.raises(IndexMismatch):
        Retriever(index, other)
    report = Indexer(corpus, index, other).run(rebuild=True)
    assert report.added == 7


def test_second_writer_is_refused(corpus, tmp_path, hash_embedder):
    index = tmp_path / "index"
    with WriteLock(index):
        with pytest.raises(IndexLocked, match="another `qa index`"):
            run(corpus, index, hash_embedder)


def test_staleness_lists_new_changed_removed(corpus, tmp_path, hash_embedder):
    index = tmp_path / "index"
    run(corpus, index, hash_embedder)
    (corpus / "added.txt").write_text(article("Added later", 2, "zoo"))
    (corpus / "fete.txt").write_text(article("Fete moved", 2, "fete"))
    (corpus / "harbour.md").unlink()
    catalog = Catalog(index)
    stale = staleness(catalog, corpus)
    catalog.close()
    assert (stale.new, stale.changed, stale.removed) == (["added.txt"], ["fete.txt"], ["harbour.md"])


def test_damaged_vectors_file_is_rebuilt_from_the_catalogue(corpus, tmp_path, hash_embedder):
    index = tmp_path / "index"
    run(corpus, index, hash_embedder)
    data = (index / "vectors.faiss").read_bytes()
    (index / "vectors.faiss").write_bytes(data[: len(data) // 2])
    assert ids_agree(index)
    hash_embedder.embedded.clear()
    run(corpus, index, hash_embedder)  # nothing changed in the corpus: the file is rewritten, nothing embedded
    assert hash_embedder.embedded == []
    from qa.store import read_faiss

    catalog = Catalog(index)
    assert read_faiss(index, catalog.tag()) is not None
    catalog.close()
