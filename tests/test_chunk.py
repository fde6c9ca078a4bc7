"""Chunks: exact offsets, within the model's token limit, every sentence covered, with overlap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.chunk import chunk_text, split_sentences
from qa.ingest import parse_file

from .conftest import SEEDS


def words(texts):
    return [len(t.split()) for t in texts]


def check(text, chunks, max_tokens, count):
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert count([c.text])[0] <= max_tokens
        for a, b in c.sentences:
            assert c.text[a:b].strip()
    covered = {(c.start + a, c.start + b) for c in chunks for a, b in c.sentences}
    for a, b in split_sentences(text):
        # every sentence is inside some chunk (long ones as pieces)
        assert any(s <= a < e or a <= s < b for s, e in covered)


def test_seed_chunks_fit_the_real_model(embedder):
    text = parse_file(SEEDS / "000_ec996563e8ac1e77.txt", SEEDS).articles[0].text
    chunks = chunk_text(text, embedder.count_tokens, embedder.max_tokens, 200)
    assert len(chunks) > 1
    check(text, chunks, embedder.max_tokens, embedder.count_tokens)
    # with [CLS] and [SEP] the model sees every token: nothing is cut at 256
    assert embedder.max_tokens == embedder.max_seq_length - 2 == 254
    # neighbours share a sentence, so an answer at a boundary is whole in one chunk
    assert all(a.end > b.start for a, b in zip(chunks, chunks[1:]))


def test_a_sentence_longer_than_the_model_is_split(embedder):
    text = "Start. " + " ".join(f"word{i}" for i in range(900)) + " end."
    chunks = chunk_text(text, embedder.count_tokens, embedder.max_tokens, 200)
    check(text, chunks, embedder.max_tokens, embedder.count_tokens)
    assert chunks[-1].text.endswith("end.")


def test_paragraphs_never_merge_into_one_sentence():
    spans = split_sentences("First paragraph without stop\nSecond one.")
    assert len(spans) == 2


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab cd.\n!?XY,\u00e9\u4e2d"), max_size=600), st.integers(5, 40))
def test_any_text_gives_exact_offsets_within_limit(text, max_tokens):
    chunks = chunk_text(text, words, max_tokens, max_tokens)
    check(text, chunks, max_tokens, words)
