"""The index format in one place: file names, the catalogue schema and its numbered migrations, the
settings the vectors depend on, and the freshness tag that ties derived files to a catalogue state."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa import config

if TYPE_CHECKING:
    from qa.embed import Embedder

CATALOG = "catalog.sqlite"  # the source of truth: articles, chunks, sentences, vectors, settings
VECTORS = "vectors.faiss"  # derived: chunk vectors for search
BM25_DIR = "bm25"  # derived: the BM25 index
STAGING = ".rebuild"  # `--rebuild` builds a new catalogue here and swaps it in when it is complete
LOCK = ".lock"

BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, error TEXT);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT, date TEXT, outlet TEXT, url TEXT,
    text TEXT NOT NULL, hash TEXT NOT NULL, duplicate_of TEXT);
CREATE INDEX IF NOT EXISTS articles_path ON articles(path);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(hash);
CREATE INDEX IF NOT EXISTS articles_duplicate ON articles(duplicate_of);
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


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _m1_base(db: sqlite3.Connection) -> None:
    for statement in BASE_SCHEMA.split(";"):  # not executescript: it would commit the migration's transaction
        if statement.strip():
            db.execute(statement)


def _m2_text_hash(db: sqlite3.Connection) -> None:
    """Duplicate detection: the hash of each article's cleaned text (older catalogues get it filled in)."""
    from qa.digest import text_digest

    if "text_hash" not in _columns(db, "articles"):
        db.execute("ALTER TABLE articles ADD COLUMN text_hash TEXT")
    rows = db.execute("SELECT id, text FROM articles WHERE text_hash IS NULL").fetchall()
    db.executemany("UPDATE articles SET text_hash = ? WHERE id = ?", [(text_digest(t), i) for i, t in rows])
    db.execute("CREATE INDEX IF NOT EXISTS articles_text ON articles(text_hash)")


def _m3_stories(db: sqlite3.Connection) -> None:
    """Story groups: each article's MinHash signature and its story id (qa.stories). Older articles get
    both at the next index run (signatures from their stored text; nothing is re-embedded)."""
    columns = _columns(db, "articles")
    if "minhash" not in columns:
        db.execute("ALTER TABLE articles ADD COLUMN minhash BLOB")
    if "story" not in columns:
        db.execute("ALTER TABLE articles ADD COLUMN story TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS articles_story ON articles(story)")


def _m4_sentence_tokens(db: sqlite3.Connection) -> None:
    """Each sentence's word pieces for late interaction (qa.tokens). Older sentences have none until
    `qa index --rebuild` embeds them again; an extract without them is ranked as before."""
    if "tokens" not in _columns(db, "sentences"):
        db.execute("ALTER TABLE sentences ADD COLUMN tokens BLOB")


# Numbered steps, applied in order inside one transaction; PRAGMA user_version counts those applied.
# Append new steps; never edit one that has shipped.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1_base, _m2_text_hash, _m3_stories, _m4_sentence_tokens]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> None:
    """Bring a catalogue opened for writing to the current schema (a new one starts at step 1)."""
    version = schema_version(db)
    if version >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS[version:]:
            step(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def index_settings(embedder: Embedder) -> dict[str, object]:
    """What the stored vectors depend on: a change to any of these means a rebuild, never a mix."""
    return {
        "schema": "1",
        **embedder.index_settings(),
        "chunk_target_tokens": config.CHUNK_TARGET_TOKENS,
        "chunk_overlap_sentences": config.CHUNK_OVERLAP_SENTENCES,
    }


@dataclass(frozen=True)
class FreshnessTag:
    """The catalogue state a derived file (FAISS, BM25) was built from: the index's id, its
    generation (bumped by every committing write) and its number of chunks, so a file that loads
    but holds the wrong vectors is still refused."""

    index_id: str
    generation: int
    chunks: int

    def __str__(self) -> str:
        return f"{self.index_id}:{self.generation}:{self.chunks}"

    @classmethod
    def parse(cls, text: str) -> FreshnessTag | None:
        parts = text.strip().rsplit(":", 2)
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]))
