"""The corpus folder as the index sees it: its article files, and which are new, changed or removed
since the catalogue last recorded them (a stat per file; a content hash only when size or mtime moved)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qa.digest import file_digest
from qa.errors import CorpusError
from qa.ingest import list_files, printable
from qa.store import Catalog


@dataclass
class Staleness:
    """Files that differ between the corpus folder and the index."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def stale(self) -> bool:
        return bool(self.new or self.changed or self.removed)


def check_corpus(corpus: Path, warnings: list[str] | None = None) -> list[Path]:
    """The article files of the corpus folder; `warnings` collects the entries that cannot be read."""
    if not corpus.is_dir():
        what = "is not a folder" if corpus.exists() else "does not exist"
        raise CorpusError(f"corpus folder {printable(str(corpus))} {what}: pass --corpus DIR or set QA_CORPUS")
    skipped: list[str] = []
    files = list_files(corpus, skipped)
    if warnings is not None:
        warnings.extend(skipped)
    if not files:
        why = f" ({skipped[0]})" if skipped else ""
        raise CorpusError(f"corpus folder {printable(str(corpus))} has no .txt, .md, .html, .json or .jsonl files{why}")
    return files


def _readable(path: Path) -> bool:
    try:
        file_digest(path)
        return True
    except OSError:
        return False


def relative_paths(files: list[Path], corpus: Path) -> list[str]:
    """Posix paths relative to the corpus, as list_files already computed them when it can."""
    rels: list[str] | None = getattr(files, "rels", None)
    if rels is not None and len(rels) == len(files):
        return rels
    return [p.relative_to(corpus).as_posix() for p in files]


def staleness(catalog: Catalog, corpus: Path, files: list[Path] | None = None) -> Staleness:
    """Compare the folder with the catalogue: size and mtime first, content hash when they differ."""
    files = check_corpus(corpus) if files is None else files
    known = catalog.files()
    out = Staleness()
    seen = set()
    listed = getattr(files, "stats", None)
    listed = listed if listed is not None and len(listed) == len(files) else None
    for n, (path, rel) in enumerate(zip(files, relative_paths(files, corpus))):
        seen.add(rel)
        if rel not in known:
            out.new.append(rel)
            continue
        digest, size, mtime_ns, error = known[rel]
        if error and not digest:  # it could not be read last time: retry once it can be
            if _readable(path):
                out.changed.append(rel)
            else:
                out.unchanged += 1
            continue
        try:
            if listed:
                size_mtime = listed[n]
            else:
                st = path.stat()
                size_mtime = (st.st_size, st.st_mtime_ns)
            if size_mtime == (size, mtime_ns) or file_digest(path) == digest:
                out.unchanged += 1
            else:
                out.changed.append(rel)
        except OSError:
            out.changed.append(rel)
    # files under a folder that could not be listed this time are not known to be gone: keep them
    hidden = tuple("" if d == "." else d.rstrip("/") + "/" for d in getattr(files, "unreadable_dirs", ()))
    missing = set(known) - seen
    kept = {rel for rel in missing if hidden and rel.startswith(hidden)}
    out.unchanged += len(kept)
    out.removed = sorted(missing - kept)
    return out


def file_digest_or_blank(path: Path) -> str:
    try:
        return file_digest(path)
    except OSError:
        return ""


def stat_or_zero(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    except OSError:
        return 0, 0
