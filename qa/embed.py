"""Sentence-transformers embeddings, loaded lazily from a local folder (no hub at run time)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.config import resolve_model_path

Progress = Callable[[int, int], None]  # (done, total)
ONNX_FILE = "query-encoder.onnx"  # the model's transformer exported once, for torch-free queries


class Embedder(Protocol):
    """What the indexer and the retriever need from an embedding model (the real one, or a test stand-in)."""

    name: str

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Content word pieces a chunk may hold."""
        ...

    def index_settings(self) -> dict[str, object]:
        """What stored vectors depend on (model, dimension, max_tokens, quantization "fp32"/"int8"):
        a change forces `qa index --rebuild`."""
        ...

    def index_settings(self) -> dict[str, object]:
        return {
            "model": self.name,
            "dimension": self.dim,
            "max_tokens": self.max_tokens,
            "quantization": "int8" if self.quantize else "fp32",
        }

    def prepare(self) -> str | None:
        return None  # work in progress: the ONNX index path lands next

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Document vectors: normalised float32, in input order."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def prepare(self) -> str | None:
        """Make the fast path ready once (e.g. export ONNX if missing); a one-line warning when it had to
        fall back, else None."""
        ...


class ModelEmbedder:
    """Loads the model on first use, so hashing-only runs and `--help` never pay for torch."""

    batch_size = 32

    def __init__(self, name: str, quantize: bool = False) -> None:
        self.name = name
        self.quantize = quantize
        self.path = resolve_model_path(name)
        self.onnx: OnnxQueryEncoder | None = None

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        import os

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise on every cold start

        try:
            return SentenceTransformer(self.path, device="cpu", local_files_only=True)
        except Exception as e:  # the library raises many kinds; the user needs one line
            from qa.errors import QAError

            raise QAError(f"cannot load model {self.name!r}: {str(e).splitlines()[0][:200]}") from e

    @cached_property
    def _local_config(self) -> dict:
        config = Path(self.path) / "sentence_bert_config.json"
        return json.loads(config.read_text()) if config.is_file() else {}

    @cached_property
    def max_seq_length(self) -> int:
        """Word pieces the model reads, [CLS] and [SEP] included; from its config when local."""
        if "max_seq_length" in self._local_config:
            return int(self._local_config["max_seq_length"])
        return int(self.model.max_seq_length)

    @property
    def max_tokens(self) -> int:
        """Content tokens a chunk may hold: the model's limit less [CLS] and [SEP]."""
        return self.max_seq_length - 2

    @cached_property
    def dim(self) -> int:
        pooling = Path(self.path) / "1_Pooling" / "config.json"
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return int(self.model.get_embedding_dimension())

    @cached_property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        """A fast tokenizer without truncation, to count tokens without loading torch."""
        local = Path(self.path) / "tokenizer.json"
        if local.is_file():
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(local))
            tok.no_truncation()
            tok.no_padding()
            return tok
        return self.model.tokenizer._tokenizer  # a transformers fast tokenizer wraps one

    def index_settings(self) -> dict[str, object]:
        return {
            "model": self.name,
            "dimension": self.dim,
            "max_tokens": self.max_tokens,
            "quantization": "int8" if self.quantize else "fp32",
        }

    def prepare(self) -> str | None:
        return None  # work in progress: the ONNX index path lands next

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Question vectors: through ONNX Runtime when an export is loaded (no torch import, ~1 s
        saved on a cold start), else through sentence-transformers. Both give the same vectors."""
        if self.onnx is not None:
            return self.onnx.encode(texts)
        return np.asarray(self.model.encode(list(texts), normalize_embeddings=True), dtype=np.float32)

    def use_onnx(self, path: Path) -> bool:
        """Answer queries through the ONNX export at `path` if it exists and loads."""
        if self.onnx is None and path.is_file() and (Path(self.path) / "tokenizer.json").is_file():
            try:
                self.onnx = OnnxQueryEncoder(path, Path(self.path) / "tokenizer.json", self.max_seq_length)
            except Exception:  # a damaged export: fall back to sentence-transformers
                self.onnx = None
        return self.onnx is not None

    def export_onnx(self, path: Path) -> None:
        """Export the transformer (not the pooling: done in numpy) to ONNX, atomically."""
        import warnings

        import torch

        transformer = self.model[0].auto_model.eval()

        class LastHidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = transformer

            def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
                return self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state

        sample = self.model.tokenizer(["a question"], return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "tokens"]}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHidden(),
                tuple(sample[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["tokens"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, path)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Normalised float32 vectors, in batches so a progress bar can follow."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths pad less
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = self.batch_size * 4
        for b in range(0, len(order), step):
            batch = order[b : b + step]
            out[batch] = self.model.encode(
                [texts[i] for i in batch], batch_size=self.batch_size, normalize_embeddings=True
            )
            if progress:
                progress(min(b + step, len(texts)), len(texts))
        return out


class OnnxQueryEncoder:
    """all-MiniLM-style mean pooling over an ONNX transformer, tokenised as sentence-transformers does
    (truncation at the model's max_seq_length, not the tokenizer.json default of 128)."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_seq_length: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = min(4, os.cpu_count() or 1)
        options.log_severity_level = 3
        # no busy-waiting between runs: spinning threads would steal the cores FAISS searches on next
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_seq_length)
        self.tokenizer.enable_padding()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(list(texts))
        feed = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        tokens = self.session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        return normalize((tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
