"""Token-level late interaction (ColBERT's MaxSim) between a question and its best extracts: each of the
question's content word pieces, in context, against the closest content piece of the extract, averaged.
It finds the sentence that says what the question asks in other words ("Who designed the ship?" against
"The ship was the work of the engineer ..."), where one vector per sentence blurs it.

The pieces' states come from the same transformer run as the sentence vectors at index time (and the
question's at question time), so it costs no extra model run. Stored small: the content pieces only,
projected on a fixed 48-dimension basis (the top principal directions of the bundled model's piece
states on news-quiz's corpus: `python eval/token_basis.py`, weights/tokens.json) and rounded to int8,
~0.6 kB a sentence. Measured, eval/README.md "Late interaction"."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.errors import QAError
from qa.features import STOP

BASIS = Path(__file__).with_name("weights") / "tokens.json"
SCALE = 127  # int8 steps of a unit-length row


@lru_cache(maxsize=1)
def _basis() -> tuple[str, np.ndarray]:
    """(the model the basis was fitted to, its components: dims x model dimension)."""
    try:
        data = json.loads(BASIS.read_text())
        # float32 little-endian in base64: parsed in well under a millisecond (a list of floats took 4 ms)
        flat = np.frombuffer(base64.b64decode(data["components"]), dtype="<f4")
        return str(data["model"]), flat.reshape(int(data["dims"]), -1).astype(np.float32)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QAError(f"the token basis {BASIS} cannot be read ({e}): reinstall qa") from e


def encode_basis(components: np.ndarray) -> str:
    """The components as weights/tokens.json stores them (see _basis)."""
    return base64.b64encode(np.ascontiguousarray(components, dtype="<f4").tobytes()).decode("ascii")


def supported(model_name: str) -> bool:
    """Whether the stored basis was fitted to this model's states (another model's would mean nothing)."""
    return _basis()[0] == model_name


def content(pieces: Sequence[str]) -> list[int]:
    """Positions of the pieces that carry meaning: whole words and word starts, not stopwords or punctuation."""
    return [i for i, p in enumerate(pieces) if p.isalnum() and p.lower() not in STOP]


def compress(pieces: Sequence[str], states: np.ndarray) -> np.ndarray:
    """The content pieces' states, projected, unit length, int8 (rows x dims)."""
    components = _basis()[1]
    rows = content(pieces)
    if not rows:
        return np.zeros((0, components.shape[0]), dtype=np.int8)
    projected = np.asarray(states[rows], dtype=np.float32) @ components.T
    projected /= np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-9)
    out: np.ndarray = np.round(projected * SCALE).astype(np.int8)
    return out


def to_bytes(tokens: np.ndarray) -> bytes:
    return tokens.astype(np.int8).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.int8).reshape(-1, _basis()[1].shape[0])


def maxsim(question: np.ndarray, extract: np.ndarray) -> float:
    """Mean over the question's content pieces of the best cosine with a piece of the extract (0 if either
    has none)."""
    if not len(question) or not len(extract):
        return 0.0
    sims = question.astype(np.float32) @ extract.astype(np.float32).T
    return float(sims.max(axis=1).mean()) / SCALE**2
