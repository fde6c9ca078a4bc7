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

from qa.digest import text_digest
from qa.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing, IndexOutdated, QAError
from qa.indexformat import BM25_DIR, CATALOG, LOCK, SCHEMA_VERSION, VECTORS, FreshnessTag, migrate, schema_version


class IndexUnwritable(QAError):
    """The index folder cannot be created or written (a path under a file, no permission, disk full)."""


ARTICLE_COLUMNS = "id, path, title, date, outlet, url, text, duplicate_of, story"  # ArticleRow's fields


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
    story: str | None = None  # the story group (qa.stories): syndicated copies share it


def remove_leftovers(folder: Path) -> None:
    """Temporary files a killed writer left behind (call under the write lock)."""
    import shutil

    for pattern in (".*.tmp", f"{BM25_DIR}/.*.tmp"):  # atomic writes name their temporary files .NAME.PID.tmp
        for leftover in folder.glob(pattern):
            if not leftover.is_dir():
                leftover.unlink(missing_ok=True)
    # qa 0.1 exported the model into each index; it is now cached once per user (qa.embed)
    (folder / "query-encoder.onnx").unlink(missing_ok=True)
    for name in (f".{BM25_DIR}.tmp", f".{BM25_DIR}.old"):
        shutil.rmtree(folder / name, ignore_errors=True)


def disk_size(folder: Path) -> int:
    """Bytes used by an index folder; files a concurrent `qa index` renames or removes meanwhile are
    skipped rather than failing the caller (`qa status` and `qa ask` run during index updates)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


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
        """`create`: open for writing (the caller holds the WriteLock), creating the catalogue if needed."""
        self.folder = Path(folder)
        path = self.folder / CATALOG
        if not path.is_file() and not create:
            raise IndexMissing(f"no index in {self.folder}: run `qa index` to build it")
        if create:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    # A catalogue deleted by hand can leave its write-ahead log behind; SQLite would
                    # replay those pages into the new, empty file and damage it.
                    for suffix in ("-wal", "-shm", "-journal"):
                        (self.folder / (CATALOG + suffix)).unlink(missing_ok=True)
            except OSError as e:
                raise IndexUnwritable(f"cannot write the index folder {self.folder}: {e.strerror or e}") from e
        try:
            self.db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")  # readers keep reading while a writer commits
            self.db.execute("PRAGMA synchronous=NORMAL")
            if create:
                migrate(self.db)
            version = schema_version(self.db)
            if version > SCHEMA_VERSION:
                raise IndexMismatch(
                    f"the index in {self.folder} has format {version}, this qa reads {SCHEMA_VERSION}: "
                    "it was written by a newer qa"
                )
            if version < SCHEMA_VERSION:
                raise IndexOutdated(
                    f"the index in {self.folder} has format {version}, this qa reads {SCHEMA_VERSION}: "
                    "run `qa index` to update it"
                )
            self.db.execute("SELECT count(*) FROM articles").fetchone()
        except sqlite3.OperationalError as e:
            if "unable to open" in str(e) or "readonly" in str(e) or "disk" in str(e):
                raise IndexUnwritable(f"cannot open the catalogue {path}: {e}") from e
            raise IndexCorrupt(f"the catalogue {path} is damaged ({e}): run `qa index --rebuild` to rebuild it") from e
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(f"the catalogue {path} is damaged ({e}): run `qa index --rebuild` to rebuild it") from e

    def close(self) -> None:
        self.db.close()

    # settings -----------------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM settings").fetchall())

    def set_settings(self, values: dict[str, Any]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])

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

    def tag(self) -> FreshnessTag:
        """The catalogue state derived files must match, read as one snapshot (a writer committing
        meanwhile cannot mix two states)."""
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")
        try:
            return FreshnessTag(self.settings().get("index_id", ""), self.generation, self.chunk_count())
        finally:
            if own:
                self.db.execute("COMMIT")

    # writing --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic step: either all of it is in the catalogue after a crash, or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            before = self.db.total_changes
            yield
            if self.db.total_changes != before:  # a step that changed nothing keeps the derived files current
                self.db.execute(
                    "INSERT INTO settings VALUES ('generation', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def delete_article(self, article_id: str) -> str | None:
        """Remove an article. If other copies of it were stored as its duplicates, the first of them
        inherits its chunks and sentence vectors (same text, so the offsets hold and nothing is
        re-embedded) and the others point to it; that heir's id is returned."""
        heir = None
        copies = self.duplicates_of(article_id)
        if copies:
            heir = copies[0]
            for table in ("chunks", "sentences"):
                self.db.execute(f"UPDATE {table} SET article_id = ? WHERE article_id = ?", (heir, article_id))
            self.db.execute("UPDATE articles SET duplicate_of = NULL WHERE id = ?", (heir,))
            self.db.execute("UPDATE articles SET duplicate_of = ? WHERE duplicate_of = ?", (heir, article_id))
        else:
            for table in ("chunks", "sentences"):
                self.db.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
        self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return heir

    def put_article(self, row: ArticleRow, article_hash: str, minhash: bytes | None = None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO articles "
            "(id, path, title, date, outlet, url, text, hash, duplicate_of, text_hash, minhash, story) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.path,
                row.title,
                row.date,
                row.outlet,
                row.url,
                row.text,
                article_hash,
                row.duplicate_of,
                text_digest(row.text),
                minhash,
                row.story,
            ),
        )

    # story groups -------------------------------------------------------------------------------
    def story_rows(self) -> Iterator[tuple[str, bytes, str | None]]:
        """(article id, MinHash signature, stored story) of every signed article, for StoryIndex.from_rows."""
        yield from self.db.execute("SELECT id, minhash, story FROM articles WHERE minhash IS NOT NULL")

    def unsigned_articles(self) -> list[tuple[str, str]]:
        """(id, text) of articles without a signature (indexed before story groups existed)."""
        return self.db.execute("SELECT id, text FROM articles WHERE minhash IS NULL").fetchall()

    def set_signature(self, article_id: str, minhash: bytes) -> None:
        self.db.execute("UPDATE articles SET minhash = ? WHERE id = ?", (minhash, article_id))

    def stories_outdated(self, grouping: str) -> bool:
        """Whether stored story ids were made by other grouping rules, or some articles have none."""
        if self.settings().get("story_grouping", grouping) != grouping:
            return True
        return self.db.execute("SELECT 1 FROM articles WHERE minhash IS NULL LIMIT 1").fetchone() is not None

    def set_stories(self, stories: dict[str, str]) -> None:
        self.db.executemany("UPDATE articles SET story = ? WHERE id = ?", [(s, a) for a, s in stories.items()])

    def story_members(self, story: str) -> list[ArticleRow]:
        """Every article of a story (copies under other titles, outlets, boilerplate), oldest first."""
        rows = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE story = ? ORDER BY date, id", (story,)
        ).fetchall()
        return [ArticleRow(*row) for row in rows]

    def story_count(self) -> int:
        """Stories told by two or more articles."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM (SELECT story FROM articles WHERE story IS NOT NULL "
                "GROUP BY story HAVING count(*) > 1)"
            ).fetchone()[0]
        )

    def put_chunks(self, article_id: str, chunks: Iterable[tuple[int, int, str, str, np.ndarray]]) -> None:
        self.db.executemany(
            'INSERT INTO chunks (article_id, seq, start, "end", text, hash, vector) VALUES (?, ?, ?, ?, ?, ?, ?)',
            [
                (article_id, seq, start, end, text, h, vec.astype(np.float32).tobytes())
                for seq, (start, end, text, h, vec) in enumerate(chunks)
            ],
        )

    def put_sentences(
        self, article_id: str, sentences: Iterable[tuple[int, int, str, np.ndarray, bytes | None]]
    ) -> None:
        """(start, end, hash, vector, word pieces from qa.tokens or None) of each sentence."""
        # float16 halves the space; cosine scores move by < 1e-3
        self.db.executemany(
            'INSERT INTO sentences (article_id, start, "end", hash, vector, tokens) VALUES (?, ?, ?, ?, ?, ?)',
            [(article_id, a, b, h, vec.astype(np.float16).tobytes(), t) for a, b, h, vec, t in sentences],
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

    def article_counts_by_path(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT path, count(*) FROM articles GROUP BY path").fetchall())

    def original_of(self, text: str, exclude: str) -> str | None:
        """The indexed (non-duplicate) article with exactly this text, other than `exclude`."""
        row = self.db.execute(
            "SELECT id FROM articles WHERE text_hash = ? AND id != ? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
            (text_digest(text), exclude),
        ).fetchone()
        return row[0] if row else None

    def duplicates_of(self, article_id: str) -> list[str]:
        """Ids of the articles stored as copies of this one (same text under another name; no chunks)."""
        rows = self.db.execute("SELECT id FROM articles WHERE duplicate_of = ? ORDER BY id", (article_id,)).fetchall()
        return [r[0] for r in rows]

    def copies(self, article_id: str) -> list[ArticleRow]:
        """An indexed article and every duplicate of it, the indexed one first: all the paths (and
        outlets, URLs) under which the corpus holds this text. Chunks always point to the first."""
        first = self.article(article_id)
        if first is not None and first.duplicate_of:
            first = self.article(first.duplicate_of)
        if first is None:
            return []
        return [first, *(row for d in self.duplicates_of(first.id) if (row := self.article(d)) is not None)]

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

    def known_tokens(self, hashes: Iterable[str]) -> dict[str, bytes]:
        """Sentences' stored word pieces (qa.tokens) by text hash, for the ones that have them."""
        out: dict[str, bytes] = {}
        wanted = list(set(hashes))
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT hash, tokens FROM sentences WHERE hash IN ({marks}) AND tokens IS NOT NULL"
            out.update(self.db.execute(sql, part).fetchall())
        return out

    def counts(self) -> tuple[int, int]:
        """(articles indexed, duplicates not counted; chunks)."""
        articles = self.db.execute("SELECT count(*) FROM articles WHERE duplicate_of IS NULL").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return articles, chunks

    def undated_count(self) -> int:
        """Indexed articles without a publication date (month-day-only datelines count as undated)."""
        row = self.db.execute(
            "SELECT count(*) FROM articles WHERE duplicate_of IS NULL AND (date IS NULL OR date LIKE '--%')"
        ).fetchone()
        return int(row[0])

    def chunk_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def article(self, article_id: str) -> ArticleRow | None:
        row = self.db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
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

    def sentences_in(self, article_id: str, start: int, end: int) -> list[tuple[int, int, np.ndarray, bytes | None]]:
        """(start, end, vector, word pieces or None) of the article's sentences inside [start, end)."""
        rows = self.db.execute(
            'SELECT start, "end", vector, tokens FROM sentences WHERE article_id = ? AND start >= ? AND "end" <= ? '
            "ORDER BY start",
            (article_id, start, end),
        ).fetchall()
        return [(a, b, np.frombuffer(v, dtype=np.float16).astype(np.float32), t) for a, b, v, t in rows]

    def all_chunk_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        ids, vecs = [], []
        for cid, blob in self.db.execute("SELECT id, vector FROM chunks ORDER BY id"):
            ids.append(cid)
            vecs.append(np.frombuffer(blob, dtype=np.float32))
        if not vecs:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return np.array(ids, dtype=np.int64), np.vstack(vecs)

    def chunk_vector_batches(self, size: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in batches, so a flat index is filled without holding two copies."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, size)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            yield ids, np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)

    def all_chunk_texts(self) -> tuple[list[int], list[str]]:
        rows = self.db.execute("SELECT id, text FROM chunks ORDER BY id").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]


# FAISS ------------------------------------------------------------------------------------------------
def build_faiss(ids: np.ndarray, vectors: np.ndarray, dim: int, ivf_min: int | None = None):  # type: ignore[no-untyped-def]
    """Exact cosine search (flat, over normalised vectors) up to qa.ivf.IVF_MIN_VECTORS; above it an
    IVF index tuned for recall@10 >= 0.95 against exact search."""
    import faiss

    from qa import ivf

    if len(ids) >= (ivf.IVF_MIN_VECTORS if ivf_min is None else ivf_min):
        index, _choice = ivf.build_ivf(ids, vectors, dim)
        return index
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return index


def faiss_from_catalog(catalog: Catalog, dim: int) -> Any:
    """The vector index for everything in the catalogue; flat ones are filled batch by batch."""
    from qa import ivf

    if catalog.chunk_count() >= ivf.IVF_MIN_VECTORS:
        ids, vectors = catalog.all_chunk_vectors()  # IVF training and tuning need them all
        return build_faiss(ids, vectors, dim)
    index = build_faiss(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), dim)
    for ids, vectors in catalog.chunk_vector_batches():
        index.add_with_ids(vectors, ids)
    return index


class DerivedUnusable(Exception):
    """A derived file (FAISS, BM25) that cannot serve: missing, out of date or damaged. Not a user error:
    the caller rebuilds it from the catalogue, and says so when it was damaged."""

    def __init__(self, reason: str, damaged: bool = False) -> None:
        super().__init__(reason)
        self.damaged = damaged


def write_faiss(folder: Path, index: Any, tag: FreshnessTag) -> None:
    import faiss

    target = folder / VECTORS
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    faiss.write_index(index, str(tmp))  # straight to disk: no in-memory copy of a large index
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)
    fsync_dir(folder)
    atomic_write(folder / (VECTORS + ".generation"), str(tag).encode())


def read_faiss(folder: Path, tag: FreshnessTag) -> Any:
    """The FAISS index built from the catalogue state `tag`; raises DerivedUnusable when it is
    missing, was built from another state, or does not load or hold the tag's number of vectors."""
    import faiss

    try:
        written = FreshnessTag.parse((folder / (VECTORS + ".generation")).read_text())
    except FileNotFoundError:
        raise DerivedUnusable(f"{VECTORS} is missing") from None
    except (OSError, ValueError) as e:
        raise DerivedUnusable(f"{VECTORS} is damaged ({e})", damaged=True) from e
    if written != tag:
        raise DerivedUnusable(f"{VECTORS} is out of date")
    try:
        index = faiss.deserialize_index(np.fromfile(folder / VECTORS, dtype=np.uint8))
    except FileNotFoundError:
        raise DerivedUnusable(f"{VECTORS} is missing") from None
    except (OSError, ValueError, RuntimeError, MemoryError) as e:
        raise DerivedUnusable(f"{VECTORS} is damaged ({str(e).splitlines()[0][:100]})", damaged=True) from e
    if index.ntotal != tag.chunks:
        raise DerivedUnusable(f"{VECTORS} holds {index.ntotal} vectors, not {tag.chunks}", damaged=True)
    return index


class WriteLock:
    """One writer per index folder; a second gets a clear message instead of a corrupt index."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK
        self.fd: int | None = None

    def __enter__(self) -> WriteLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise IndexUnwritable(f"cannot write the index folder {self.path.parent}: {e.strerror or e}") from e
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
