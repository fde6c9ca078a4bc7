"""The ONNX embedder: same vectors as sentence-transformers, order kept, int8 recorded, export cached, no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.embed import ModelEmbedder, length_batches
from qa.errors import QAError

from .conftest import ROOT

MODEL = "all-MiniLM-L6-v2"
SCIFACT = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
QUESTIONS = [
    "Where is the next forum hosted?",
    "How many representatives attended?",
    "Что обсуждали на форуме? 😀 中国和俄罗斯",
    "x",
]


def real_texts() -> list[str]:
    """Questions, sentences and whole abstracts (most longer than 128 word pieces, some cut at 256)."""
    texts = list(QUESTIONS) + ["word " * 400]  # both sides must cut at 256 word pieces, not tokenizer.json's 128
    if SCIFACT.is_file():
        with open(SCIFACT) as f:
            for _, line in zip(range(12), f):
                doc = json.loads(line)
                texts.append(doc["title"] + " " + doc["text"])
                texts.append(doc["text"].split(". ")[0])
    return texts


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of this module's own: the export below is the first-run export a user gets."""
    return tmp_path_factory.mktemp("qa-cache")


@pytest.fixture(autouse=True)
def _use_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_CACHE", str(cache))


@pytest.fixture(scope="module")
def fp32(cache: Path) -> ModelEmbedder:
    os.environ["QA_CACHE"] = str(cache)  # module fixtures run before the autouse one
    embedder = ModelEmbedder(MODEL)
    assert embedder.prepare() is None
    return embedder


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_export_is_cached_once_without_leftovers(fp32: ModelEmbedder, cache: Path) -> None:
    files = sorted(p.name for p in (cache / "onnx").iterdir())
    assert files == [fp32.onnx_path().name]  # no temp file left behind, one model file
    assert fp32.onnx is not None


def test_onnx_vectors_match_sentence_transformers(fp32: ModelEmbedder) -> None:
    texts = real_texts()
    assert max(fp32.count_tokens(texts)) > 254 and len(texts) > 20
    fast = fp32.encode(texts)
    reference = np.asarray(fp32.model.encode(texts, normalize_embeddings=True))
    assert fast.dtype == np.float32 and fast.shape == (len(texts), fp32.dim)
    assert cosines(fast, reference).min() >= 0.9999, cosines(fast, reference)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-5)
    queries = fp32.encode_queries(QUESTIONS)
    assert cosines(queries, reference[: len(QUESTIONS)]).min() >= 0.9999


def test_batches_by_length_keep_input_order(fp32: ModelEmbedder) -> None:
    texts = real_texts()
    vectors = fp32.encode(texts)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(texts))
    shuffled = fp32.encode([texts[i] for i in perm])
    assert np.allclose(shuffled, vectors[perm], atol=1e-5)
    one_by_one = np.vstack([fp32.encode([t]) for t in texts[:6]])  # no padding at all
    assert cosines(one_by_one, vectors[:6]).min() >= 0.99999


def test_length_batches_cover_every_text_once_within_the_budget() -> None:
    lengths = [5, 256, 3, 40, 40, 256, 1, 0, 128, 7] * 30
    batches = list(length_batches(lengths, budget=1024, max_rows=16))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)  # longest first: little padding
    for b in batches:
        assert len(b) <= 16 and len(b) * max(lengths[i] for i in b) <= 1024
    assert list(length_batches([], budget=1024)) == []
    assert list(length_batches([5000], budget=1024)) == [[0]]  # longer than the budget: alone


def test_progress_reaches_the_total(fp32: ModelEmbedder) -> None:
    seen: list[tuple[int, int]] = []
    texts = real_texts()
    fp32.encode(texts, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(texts), len(texts))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert fp32.encode([]).shape == (0, fp32.dim)


def test_int8_is_recorded_and_close_to_fp32(fp32: ModelEmbedder, cache: Path) -> None:
    assert fp32.index_settings() == {"model": MODEL, "dimension": 384, "max_tokens": 254, "quantization": "fp32"}
    int8 = ModelEmbedder(MODEL, quantize=True)
    assert int8.index_settings()["quantization"] == "int8"
    assert int8.prepare() is None
    assert int8.onnx_path() != fp32.onnx_path() and int8.onnx_path().is_file()
    assert int8.onnx_path().stat().st_size < fp32.onnx_path().stat().st_size / 3  # weights really int8
    texts = real_texts()
    c = cosines(int8.encode(texts), fp32.encode(texts))
    assert c.mean() >= 0.98 and c.min() >= 0.95, c  # close, measured: mean 0.992, worst 0.98
    assert c.max() < 0.99999  # and really another model, not the fp32 one under a new name


def test_indexing_and_queries_do_not_import_torch_once_exported(fp32: ModelEmbedder, cache: Path) -> None:
    code = (
        "import sys; from qa.embed import ModelEmbedder; e = ModelEmbedder('all-MiniLM-L6-v2'); "
        "w = e.prepare(); e.encode(['one text', 'another text ' * 100]); e.encode_queries(['a question?']); "
        "print(w, *(m in sys.modules for m in ('torch', 'sentence_transformers', 'transformers')))"
    )
    env = {**os.environ, "QA_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.stdout.split() == ["None", "False", "False", "False"], out.stderr


def test_a_failed_export_falls_back_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("QA_CACHE", str(blocked))
    embedder = ModelEmbedder(MODEL)
    warning = embedder.prepare()
    assert warning and "sentence-transformers" in warning and "\n" not in warning
    assert embedder.prepare() == warning  # kept for whoever reports it later
    vectors = embedder.encode(QUESTIONS)  # still works, through torch: same vectors
    reference = np.asarray(embedder.model.encode(QUESTIONS, normalize_embeddings=True))
    assert cosines(vectors, reference).min() >= 0.9999
    with pytest.raises(QAError, match="int8"):  # int8 cannot fall back: the index would record other vectors
        ModelEmbedder(MODEL, quantize=True).prepare()


def test_a_damaged_cached_model_is_rebuilt(
    fp32: ModelEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported, own = fp32.onnx_path(), tmp_path / "cache"
    monkeypatch.setenv("QA_CACHE", str(own))
    (own / "onnx").mkdir(parents=True)
    os.link(exported, own / "onnx" / exported.name)  # the fp32 export, shared: no re-export
    int8 = ModelEmbedder(MODEL, quantize=True)
    int8.onnx_path().write_bytes(b"\x08\x07 truncated by a full disk")
    assert int8.prepare() is None
    assert int8.onnx_path().stat().st_size > 1_000_000
    assert int8.encode(["a question?"]).shape == (1, 384)
