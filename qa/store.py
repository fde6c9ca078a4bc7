"""The index on disk: an SQLite catalogue (the source of truth, vectors included) plus a FAISS file
derived from it. SQLite commits are atomic; the FAISS file is replaced by rename and tagged with the
catalogue generation it reflects, so a stale or damaged one is rebuilt from stored vectors."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing

CATALOG = "catalog.sqlite"
VECTORS = "vectors.faiss"
BM25_DIR = "bm25"
SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, error TEXT);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT, date TEXT, outlet TEXT, url TEXT,
    text TEXT NOT NULL, hash TEXT NOT NULL, duplicate_of TEXT);
CREATE INDEX IF NOT EXISTS articles_path ON articles(path);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, seq INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, hash TEXT NOT NULL,
    vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, hash TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS sentences_article ON sentences(article_id, start);
CREATE INDEX IF NOT EXISTS sentences_hash ON sentences(hash);
"""


@dataclass
class ChunkRow:
    id: int
    article_id: str
    start: int
    end: int
    text: str


@dataclass
class ArticleRow:
    id: str
    path: str
    title: str
    date: str | None
    outlet: str | None
    url: str | None
    text: str
    duplicate_of: str | None = None


def atomic_write(path: Path, data: bytes) -> None:
    """Write beside the target, fsync, rename: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Catalog:
    """The SQLite catalogue. Open it read-only to query, or through `writer()` to change it."""

    def __init__(self, folder: Path, create: bool = False) -> None:
        self.folder = Path(folder)
        path = self.folder / CATALOG
        if not path.is_file() and not create:
            raise IndexMissing(f"no index in {self.folder}: run `qa index` to build it")
        if create:
            self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")  # readers keep reading while a writer commits
            self.db.execute("PRAGMA synchronous=NORMAL")
            if create:
                self.db.executescript(SCHEMA)
            self.db.execute("SELECT count(*) FROM articles").fetchone()
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(
                f"the catalogue {path} is damaged ({e}): run `qa index --rebuild` to rebuild it"
            ) from e

    def close(self) -> None:
        self.db.close()

    # settings -----------------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM settings").fetchall())

    def set_settings(self, values: dict[str, Any]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO settings VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
        )

    def check_settings(self, expected: dict[str, Any]) -> None:
        """Refuse to mix vectors from another model or chunker into this index."""
        stored = self.settings()
        for key, value in expected.items():
            if key in stored and stored[key] != str(value):
                raise IndexMismatch(
                    f"the index in {self.folder} was built with {key}={stored[key]!r}, not {value!r}: "
                    f"run `qa index --rebuild` (or pass the matching --model)"
                )

    @property
    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM settings WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    # writing --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic step: either all of it is in the catalogue after a crash, or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute(
                "INSERT INTO settings VALUES ('generation', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def delete_article(self, article_id: str) -> None:
        for table in ("chunks", "sentences"):
            self.db.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
        self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))

    def put_article(self, row: ArticleRow, text_hash: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.path, row.title, row.date, row.outlet, row.url, row.text, text_hash, row.duplicate_of),
        )

    def put_chunks(self, article_id: str, chunks: Iterable[tuple[int, int, str, str, np.ndarray]]) -> None:
        self.db.executemany(
            'INSERT INTO chunks (article_id, seq, start, "end", text, hash, vector) VALUES (?, ?, ?, ?, ?, ?, ?)',
            [
                (article_id, seq, start, end, text, h, vec.astype(np.float32).tobytes())
                for seq, (start, end, text, h, vec) in enumerate(chunks)
            ],
        )

    def put_sentences(self, article_id: str, sentences: Iterable[tuple[int, int, str, np.ndarray]]) -> None:
        # float16 halves the space; cosine scores move by < 1e-3
        self.db.executemany(
            'INSERT INTO sentences (article_id, start, "end", hash, vector) VALUES (?, ?, ?, ?, ?)',
            [(article_id, a, b, h, vec.astype(np.float16).tobytes()) for a, b, h, vec in sentences],
        )

    def put_file(self, path: str, digest: str, size: int, mtime_ns: int, error: str | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", (path, digest, size, mtime_ns, error))

    def delete_file(self, path: str) -> None:
        self.db.execute("DELETE FROM files WHERE path = ?", (path,))

    # reading --------------------------------------------------------------------------------------
    def files(self) -> dict[str, tuple[str, int, int, str | None]]:
        rows = self.db.execute("SELECT path, hash, size, mtime_ns, error FROM files").fetchall()
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def article_hashes(self, path: str) -> dict[str, str]:
        rows = self.db.execute("SELECT id, hash FROM articles WHERE path = ?", (path,)).fetchall()
        return dict(rows)

    def article_by_hash(self, text_hash: str, exclude: str) -> str | None:
        row = self.db.execute(
            "SELECT id FROM articles WHERE hash = ? AND id != ? AND duplicate_of IS NULL LIMIT 1",
            (text_hash, exclude),
        ).fetchone()
        return row[0] if row else None

    def duplicates_of(self, article_id: str) -> list[str]:
        rows = self.db.execute("SELECT id FROM articles WHERE duplicate_of = ?", (article_id,)).fetchall()
        return [r[0] for r in rows]

    def known_vectors(self, table: str, hashes: Iterable[str], dtype: type) -> dict[str, np.ndarray]:
        """Vectors already embedded for these texts, so a changed article re-embeds only what changed."""
        out: dict[str, np.ndarray] = {}
        wanted = list(set(hashes))
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            for h, blob in self.db.execute(f"SELECT hash, vector FROM {table} WHERE hash IN ({marks})", part):
                out[h] = np.frombuffer(blob, dtype=dtype).astype(np.float32)
        return out

    def counts(self) -> tuple[int, int]:
        articles = self.db.execute("SELECT count(*) FROM articles WHERE duplicate_of IS NULL").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return articles, chunks

    def article(self, article_id: str) -> ArticleRow | None:
        row = self.db.execute(
            "SELECT id, path, title, date, outlet, url, text, duplicate_of FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return ArticleRow(*row) if row else None

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, ChunkRow]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f'SELECT id, article_id, start, "end", text FROM chunks WHERE id IN ({marks})', ids
        ).fetchall()
        return {r[0]: ChunkRow(*r) for r in rows}

    def sentences_in(self, article_id: str, start: int, end: int) -> list[tuple[int, int, np.ndarray]]:
        rows = self.db.execute(
            'SELECT start, "end", vector FROM sentences WHERE article_id = ? AND start >= ? AND "end" <= ? '
            "ORDER BY start",
            (article_id, start, end),
        ).fetchall()
        return [(a, b, np.frombuffer(v, dtype=np.float16).astype(np.float32)) for a, b, v in rows]

    def all_chunk_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        ids, vecs = [], []
        for cid, blob in self.db.execute("SELECT id, vector FROM chunks ORDER BY id"):
            ids.append(cid)
            vecs.append(np.frombuffer(blob, dtype=np.float32))
        if not vecs:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return np.array(ids, dtype=np.int64), np.vstack(vecs)

    def all_chunk_texts(self) -> tuple[list[int], list[str]]:
        rows = self.db.execute("SELECT id, text FROM chunks ORDER BY id").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]


# FAISS ------------------------------------------------------------------------------------------------
def build_faiss(ids: np.ndarray, vectors: np.ndarray, dim: int):  # type: ignore[no-untyped-def]
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))  # exact cosine on normalised vectors
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return index


def write_faiss(folder: Path, index, tag: str) -> None:  # type: ignore[no-untyped-def]
    import faiss

    data = faiss.serialize_index(index).tobytes()
    atomic_write(folder / VECTORS, data)
    atomic_write(folder / (VECTORS + ".generation"), tag.encode())


def read_faiss(folder: Path, tag: str):  # type: ignore[no-untyped-def]
    """The FAISS index if it is intact and was built from the catalogue state `tag`, else None."""
    import faiss

    try:
        if (folder / (VECTORS + ".generation")).read_text() != tag:
            return None
        data = np.fromfile(folder / VECTORS, dtype=np.uint8)
        return faiss.deserialize_index(data)
    except (OSError, ValueError, RuntimeError):
        return None


class WriteLock:
    """One writer per index folder; a second gets a clear message instead of a corrupt index."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise IndexLocked(
                f"another `qa index` (pid {holder}) is updating {self.path.parent}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
