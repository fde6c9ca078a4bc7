"""The torch-free query path gives the same vectors as sentence-transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from qa.embed import ONNX_FILE, Embedder

from .conftest import ROOT

QUESTIONS = [
    "Where is the next forum hosted?",
    "How many representatives attended?",
    "Что обсуждали на форуме? 😀 中国和俄罗斯",
    "word " * 400,  # longer than the model reads: both must cut at 256 word pieces, not 128
]


def test_onnx_query_vectors_match_sentence_transformers(embedder, seed_index):
    onnx = Embedder(embedder.name)
    assert onnx.use_onnx(seed_index / ONNX_FILE)
    fast = onnx.encode_queries(QUESTIONS)
    reference = np.asarray(embedder.model.encode(QUESTIONS, normalize_embeddings=True))
    cosines = (fast * reference).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert "model" not in onnx.__dict__  # sentence-transformers was never loaded for it


def test_cold_ask_does_not_import_torch(seed_corpus, seed_index):
    code = (
        "import sys; from pathlib import Path; from qa.embed import Embedder; from qa.retrieve import Retriever; "
        "from qa.answer import answer; "
        f"r = Retriever(Path({str(seed_index)!r}), Embedder('all-MiniLM-L6-v2')); "
        "a = answer(r, 'Where is the next forum hosted?'); "
        "print('Taganrog' in a.text, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr


def test_qa_ask_exports_the_query_encoder_an_older_index_lacks(seed_corpus, seed_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    (index / ONNX_FILE).unlink()  # as an index built before the export existed
    ask = [sys.executable, "-m", "qa", "ask", "--corpus", str(seed_corpus), "--index", str(index), "--json"]
    first = subprocess.run([*ask, "Where is the next forum hosted?"], capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    assert "Taganrog" in json.loads(first.stdout)["answer"]["text"]
    assert (index / ONNX_FILE).is_file()  # the next question runs without torch
