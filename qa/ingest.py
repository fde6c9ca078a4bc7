"""Read article files (.txt .md .html .json .jsonl) into clean Articles with their metadata."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qa.boilerplate import clean_lines

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
MAX_FILE_BYTES = 200 * 1024 * 1024  # larger files are almost certainly not articles


@dataclass
class Article:
    id: str  # stable: relative path, plus "#key" for records inside a JSON/JSONL file
    path: str  # relative to the corpus folder
    title: str
    text: str  # cleaned article text; chunk offsets point into it
    date: str | None = None  # ISO yyyy-mm-dd
    outlet: str | None = None
    url: str | None = None

    @property
    def hash(self) -> str:
        meta = "\x1f".join(x or "" for x in (self.title, self.date, self.outlet, self.url))
        return hashlib.blake2b(f"{meta}\x1e{self.text}".encode(), digest_size=16).hexdigest()


@dataclass
class ParsedFile:
    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Unreadable(Exception):
    """A file that cannot be turned into text; the message says why."""


def list_files(root: Path) -> list[Path]:
    """Article files under root, recursively, sorted; hidden files and symlink loops are skipped."""
    found: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()

    def walk(folder: Path) -> None:
        try:
            st = folder.stat()
            entries = sorted(folder.iterdir())
        except OSError:
            return
        if (st.st_dev, st.st_ino) in seen_dirs:
            return  # a symlink loop or a second link to a folder already read
        seen_dirs.add((st.st_dev, st.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    walk(entry)
                elif entry.suffix.lower() in SUFFIXES and entry.is_file():
                    found.append(entry)
            except OSError:
                continue

    walk(root)
    return found


def decode(data: bytes) -> str:
    """UTF-8 when it is; otherwise the most likely legacy encoding; binary is refused."""
    if b"\x00" in data[:8192]:
        raise Unreadable("binary file (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise Unreadable("not text in any known encoding")
    return str(best)


def parse_file(path: Path, root: Path) -> ParsedFile:
    """Every article in one file; unreadable files raise Unreadable, bad JSON lines become warnings."""
    rel = path.relative_to(root).as_posix()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise Unreadable(f"larger than {MAX_FILE_BYTES // 2**20} MB")
        raw = path.read_bytes()
    except OSError as e:
        raise Unreadable(e.strerror or str(e)) from e
    text = decode(raw)
    suffix = path.suffix.lower()
    out = ParsedFile()
    if suffix in (".json", ".jsonl"):
        for key, record in _json_records(text, suffix, out.warnings, rel):
            article = from_record(record, rel, key)
            if article is None:
                out.warnings.append(f"{rel}#{key}: no article text, skipped")
            else:
                out.articles.append(article)
        return out
    if suffix in (".html", ".htm"):
        article = from_html(text, rel)
    elif suffix in (".md", ".markdown"):
        article = from_markdown(text, rel)
    else:
        article = from_text(text, rel)
    if article is None:
        raise Unreadable("no article text after removing boilerplate")
    out.articles.append(article)
    return out


def _json_records(text: str, suffix: str, warnings: list[str], rel: str) -> list[tuple[str, dict[str, Any]]]:
    records: list[tuple[str, dict[str, Any]]] = []
    if suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                warnings.append(f"{rel}:{n}: malformed JSON ({e.msg}), line skipped")
                continue
            if isinstance(obj, dict):
                records.append((_record_key(obj, str(n)), obj))
            else:
                warnings.append(f"{rel}:{n}: not a JSON object, line skipped")
        return records
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise Unreadable(f"malformed JSON at line {e.lineno}: {e.msg}") from e
    items = obj if isinstance(obj, list) else obj.get("articles", [obj]) if isinstance(obj, dict) else []
    for n, item in enumerate(items, 1):
        if isinstance(item, dict):
            records.append((_record_key(item, str(n)), item))
    return records


def _record_key(obj: dict[str, Any], fallback: str) -> str:
    for key in ("_id", "id", "doc_id", "uuid"):
        if isinstance(obj.get(key), (str, int)) and str(obj[key]).strip():
            return str(obj[key]).strip()
    return fallback


def _first(obj: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, (str, int, float)) and str(value).strip():
            return str(value).strip()
    return None


def from_record(obj: dict[str, Any], rel: str, key: str) -> Article | None:
    """One JSON object: title/text (or body/content), date, url, source/outlet."""
    body = _first(obj, "text", "body", "content", "article", "abstract") or ""
    if "<p" in body or "<div" in body:
        html = from_html(body, rel)
        body = html.text if html else ""
    body = normalize(body)
    title = normalize(_first(obj, "title", "headline") or "")
    if not body:
        return None
    outlet = _first(obj, "source", "outlet", "site", "sitename", "publisher")
    return Article(
        id=f"{rel}#{key}",
        path=rel,
        title=title or first_words(body),
        text=f"{title}\n{body}" if title else body,
        date=parse_date(_first(obj, "date", "published", "published_at", "pubdate", "datePublished") or ""),
        outlet=outlet,
        url=_first(obj, "url", "link", "uri"),
    )


def from_html(html: str, rel: str) -> Article | None:
    """Main text and metadata by trafilatura, which drops menus, link lists and footers."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
    )
    if doc is None:
        return None
    meta = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    body = normalize(meta.get("text") or "")
    if not body:
        return None
    title = normalize(meta.get("title") or "") or first_words(body)
    if not body.startswith(title):
        body = f"{title}\n{body}"
    return Article(
        id=rel,
        path=rel,
        title=title,
        text=body,
        date=parse_date(meta.get("date") or ""),
        outlet=meta.get("sitename") or None,
        url=meta.get("url") or None,
    )


FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MD_MARKUP = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?)|(\*\*|__|`)")


def from_markdown(text: str, rel: str) -> Article | None:
    """YAML front matter for metadata; links and markup stripped to their words."""
    meta: dict[str, Any] = {}
    match = FRONT_MATTER.match(text)
    if match:
        import yaml

        try:
            loaded = yaml.safe_load(match.group(1))
            meta = loaded if isinstance(loaded, dict) else {}
        except yaml.YAMLError:
            meta = {}
        text = text[match.end() :]
    if not meta.get("title"):
        heading = re.search(r"^#\s+(.+)$", text, re.M)
        if heading:
            meta["title"] = heading.group(1)
    plain = "\n".join(MD_MARKUP.sub(lambda m: "", MD_LINK.sub(r"\1", line)) for line in text.splitlines())
    return from_text(plain, rel, meta)


def from_text(text: str, rel: str, meta: dict[str, Any] | None = None) -> Article | None:
    """Plain text: boilerplate lines dropped; title, date, outlet and URL read from the header lines."""
    meta = {k: str(v) for k, v in (meta or {}).items() if v is not None}
    cleaned = clean_lines(normalize(text).splitlines())
    if not cleaned.body:
        return None
    title = normalize(meta.get("title", "")) or cleaned.title or first_words(cleaned.body[0])
    body = "\n".join(cleaned.body)
    if not body.startswith(title):
        body = f"{title}\n{body}"
    header = "\n".join(cleaned.header)
    return Article(
        id=rel,
        path=rel,
        title=title,
        text=body,
        date=parse_date(meta.get("date", "")) or find_date(header) or find_date(body[:300]),
        outlet=meta.get("source") or meta.get("outlet") or find_outlet(header + "\n" + body[:200]),
        url=meta.get("url") or find_url(header),
    )


def normalize(text: str) -> str:
    """Unify newlines and spaces and drop control characters, so offsets mean the same everywhere."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff]", "", text)
    text = re.sub(r"[ \t]+", " ", text)
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def first_words(text: str, n: int = 12) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
DATE_PATTERNS = [
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
    re.compile(rf"\b((?:{MONTHS})[a-z]*\.?)\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I),
    re.compile(rf"\b(\d{{1,2}})\s+((?:{MONTHS})[a-z]*\.?),?\s+(\d{{4}})\b", re.I),
]


def parse_date(value: str) -> str | None:
    """An ISO date from the usual ways articles write one, or None."""
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return find_date(value)


def find_date(text: str) -> str | None:
    explicit = re.search(r"(?im)^(?:date|published|posted)[:\s]+(.+)$", text)
    if explicit:
        text = explicit.group(1)
    for n, pattern in enumerate(DATE_PATTERNS):
        match = pattern.search(text)
        if not match:
            continue
        try:
            if n == 0:
                year, month, day = (int(g) for g in match.groups())
            elif n == 1:
                month, day, year = _month(match.group(1)), int(match.group(2)), int(match.group(3))
            else:
                day, month, year = int(match.group(1)), _month(match.group(2)), int(match.group(3))
            return date(year, month, day).isoformat()
        except ValueError:
            continue
    return None


def _month(name: str) -> int:
    return [m[:3] for m in MONTHS.split("|")].index(name[:3].lower()) + 1


DATELINE_SOURCE = re.compile(r"\((Xinhua|AP|AFP|Reuters|PTI|IANS|dpa|ANI|UPI|TASS|Kyodo|Yonhap|AA)\)")
SOURCE_LINE = re.compile(r"(?im)^(?:source|outlet|publisher)\s*[:：]\s*(.{2,60})$")


def find_outlet(text: str) -> str | None:
    line = SOURCE_LINE.search(text)
    if line:
        return line.group(1).strip()
    agency = DATELINE_SOURCE.search(text)
    return agency.group(1) if agency else None


def find_url(text: str) -> str | None:
    match = re.search(r"https?://[^\s)>\]]+", text)
    return match.group(0) if match else None
