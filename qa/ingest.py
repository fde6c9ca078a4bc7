"""Read article files (.txt .md .html .json .jsonl) into clean Articles with their metadata."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from qa.boilerplate import clean_lines, is_prose
from qa.digest import open_regular

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
# Size limits. A news article is 2-60 kB of text; anything far larger is a dump, a book or a scraper
# accident. Such input is indexed in part, with a warning, rather than refused or left to exhaust
# memory and time (a 50 MB page would be ~20,000 chunks to embed: hours on a laptop CPU).
MAX_FILE_BYTES = 200 * 1024 * 1024  # a .json/.jsonl collection larger than this is skipped
MAX_PAGE_BYTES = 4 * 1024 * 1024  # of a .txt/.md/.html file only the first 4 MB are read
MAX_ARTICLE_CHARS = 500_000  # an article's cleaned text is cut (at a line break) after this many chars


@dataclass
class Article:
    id: str  # stable: relative path, plus "#key" for records inside a JSON/JSONL file
    path: str  # relative to the corpus folder
    title: str
    text: str  # cleaned article text; chunk offsets point into it
    date: str | None = None  # ISO yyyy-mm-dd, or --mm-dd when only a dateline without a year gives it
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


class FileList(list):  # type: ignore[type-arg]
    """Paths found in a corpus, plus the folders that could not be listed (relative, posix): what was
    indexed under those is kept, not taken for removed."""

    unreadable_dirs: list[str]
    rels: list[str]  # the paths relative to the corpus folder, posix, in the same order
    stats: list[tuple[int, int]]  # (size, mtime_ns) as listed, so a no-change run stats each file once


def list_files(root: Path, skipped: list[str] | None = None) -> FileList:
    """Article files under root, recursively, sorted; hidden files and symlink loops are skipped.
    Entries that look like articles but cannot be read (broken links, pipes, devices, unreadable
    folders, names that are not UTF-8) are left out and described in `skipped`, if given."""
    found = FileList()
    found.unreadable_dirs = []
    found.rels = []
    found.stats = []
    seen_dirs: set[tuple[int, int]] = set()
    note = skipped.append if skipped is not None else (lambda message: None)

    def walk(folder: str, prefix: str) -> None:
        # os.scandir and plain strings: pathlib costs ~2 s per 100k files here, this ~0.3 s
        try:
            st = os.stat(folder)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            note(f"skipped folder {printable(prefix.rstrip('/') or '.')}: {e.strerror or e}")
            found.unreadable_dirs.append(prefix.rstrip("/") or ".")
            return
        if (st.st_dev, st.st_ino) in seen_dirs:
            return  # a symlink loop or a second link to a folder already read
        seen_dirs.add((st.st_dev, st.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            article_like = os.path.splitext(entry.name)[1].lower() in SUFFIXES
            try:
                entry_stat = entry.stat()  # follows links: a link to a file counts as that file
                mode = entry_stat.st_mode
            except OSError as e:
                if article_like or entry.is_symlink():
                    reason = "broken or looping symbolic link" if entry.is_symlink() else (e.strerror or str(e))
                    note(f"skipped {printable(rel)}: {reason}")
                continue
            if stat.S_ISDIR(mode):
                walk(entry.path, rel + "/")
            elif article_like and not stat.S_ISREG(mode):
                note(f"skipped {printable(rel)}: not a regular file")
            elif article_like:
                try:
                    rel.encode()
                except UnicodeEncodeError:
                    note(f"skipped {printable(rel)}: the file name is not valid UTF-8; rename it")
                    continue
                found.append(Path(entry.path))
                found.rels.append(rel)
                found.stats.append((entry_stat.st_size, entry_stat.st_mtime_ns))

    walk(str(root), "")
    return found


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text safe to print on a terminal: control characters (escape sequences included) and
    undecodable bytes of file names are shown as \\xNN instead of being sent raw."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text
    )


def read_head(path: Path, limit: int, refuse: bool = False) -> tuple[bytes, bool]:
    """At most `limit` bytes of a regular file, and whether it was longer (or, with `refuse`, Unreadable
    if it is). Opened without blocking and checked to be a regular file, so a named pipe or a device
    never hangs the run."""
    try:
        fd = open_regular(path)
    except OSError as e:
        raise Unreadable(e.strerror or str(e).replace(f"{path} is ", "")) from e
    try:
        if refuse and os.fstat(fd).st_size > limit:
            raise Unreadable(f"larger than {limit // 2**20} MB; split it into smaller files")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise Unreadable(e.strerror or str(e)) from e
    finally:
        os.close(fd)
    if len(data) <= limit:
        return data, False
    data = data[:limit]
    cut = data.rfind(b"\n")
    if cut < limit // 2:
        cut = data.rfind(b" ")
    return (data[:cut] if cut > 0 else data), True


BOMS = [
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
]
# Legacy 8-bit encodings read one another's bytes without error, and charset_normalizer's choice among
# them is unreliable on article-sized text (it reads French latin-1 as cp1250, turning "è" into "č").
# Among its equally good candidates, the one giving letters (not symbols) wins, then the usual code page
# of the language family that the text's plain-ASCII function words point to.
PREFERRED = [
    "cp1252",
    "latin_1",
    "iso8859_15",
    "cp1251",
    "gb18030",
    "gbk",
    "big5",
    "shift_jis",
    "cp932",
    "euc_jp",
    "euc_kr",
    "cp1250",
    "iso8859_2",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp874",
]
CENTRAL_EUROPEAN = ("cp1250", "iso8859_2")
WESTERN_WORDS = frozenset(
    "the and of to is with le les et des est une dans pour sur avec il di che per sono gli della nel come el los "
    "las y por para del con como os um uma pelo mais der die und das ist nicht mit den dem sich auf het een van".split()
)
CENTRAL_WORDS = frozenset(
    "je v ve w z ze nie jest az hogy nem egy pro jako ale jak od za jsou byl bylo oraz tak sa su kao ili nije sam "
    "ima pa pri kot tudi ki bil".split()
)
ASCII_WORD = re.compile(rb"(?<![\x80-\xff\w])[a-z]+(?![\x80-\xff\w])")


def _letter_share(sample: bytes, encoding: str) -> float:
    """Share of the non-ASCII characters that are letters: a wrong code page gives symbols (±, ¶, ³)."""
    try:
        text = sample.decode(encoding, errors="ignore")
    except LookupError:
        return 0.0
    non_ascii = [c for c in text if ord(c) > 127]
    return sum(c.isalpha() for c in non_ascii) / len(non_ascii) if non_ascii else 1.0


def _legacy(data: bytes) -> str:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise Unreadable("binary or not text in any known encoding")
    least = min(m.chaos for m in matches)
    sample = data[:65536]
    shares = {m.encoding: _letter_share(sample, m.encoding) for m in matches if m.chaos <= least + 0.01}
    words = ASCII_WORD.findall(sample.lower())
    central = sum(w.decode() in CENTRAL_WORDS for w in words) > sum(w.decode() in WESTERN_WORDS for w in words)
    if central:
        for encoding in CENTRAL_EUROPEAN:
            shares.setdefault(encoding, _letter_share(sample, encoding))
    top = max(shares.values())
    order = [*CENTRAL_EUROPEAN, *PREFERRED] if central else PREFERRED
    ranked = sorted(
        (e for e, share in shares.items() if share >= top - 0.02),
        key=lambda e: order.index(e) if e in order else len(order),
    )
    return data.decode(ranked[0], errors="replace")


def decode(data: bytes, truncated: bool = False) -> str:
    """UTF-8 (or UTF-16/32 with a byte-order mark) when it is; otherwise the most likely legacy
    encoding; binary is refused. `truncated`: the bytes are a file's head, maybe cut inside a character."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding, errors="strict" if not truncated else "ignore")
            except UnicodeDecodeError as e:
                raise Unreadable(f"invalid {encoding.upper()} text") from e
    if b"\x00" in data[:8192]:
        raise Unreadable("binary file (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if truncated and e.start >= len(data) - 3 and e.reason == "unexpected end of data":
            return data[: e.start].decode("utf-8-sig")
    text = _legacy(data)
    controls = sum(1 for c in text[:20000] if c < " " and c not in "\n\r\t\f")
    if controls > 0.01 * min(len(text), 20000):
        raise Unreadable("binary file (control characters)")
    return text


def parse_file(path: Path, root: Path) -> ParsedFile:
    """Every article in one file; unreadable files raise Unreadable, bad JSON lines become warnings."""
    rel = path.relative_to(root).as_posix()
    suffix = path.suffix.lower()
    collection = suffix in (".json", ".jsonl")
    out = ParsedFile()
    # a collection is parsed whole (its records are articles); a page is read up to MAX_PAGE_BYTES
    raw, truncated = read_head(path, MAX_FILE_BYTES if collection else MAX_PAGE_BYTES, refuse=collection)
    if truncated:
        out.warnings.append(
            f"{printable(rel)}: larger than {MAX_PAGE_BYTES // 2**20} MB; only the first "
            f"{MAX_PAGE_BYTES // 2**20} MB are indexed"
        )
    if not raw.strip():
        raise Unreadable("empty file: no article text")
    text = decode(raw, truncated)
    if collection:
        for key, record in _json_records(text, suffix, out.warnings, rel):
            article = from_record(record, rel, key)
            if article is None:
                out.warnings.append(f"{printable(rel)}#{printable(key)}: no article text, skipped")
            else:
                out.articles.append(cap(article, out.warnings))
        return out
    if suffix in (".html", ".htm"):
        article = from_html(text, rel)
    elif suffix in (".md", ".markdown"):
        article = from_markdown(text, rel)
    else:
        article = from_text(text, rel)
    if article is None:
        raise Unreadable("no article text after removing boilerplate")
    out.articles.append(cap(article, out.warnings))
    return out


def cap(article: Article, warnings: list[str]) -> Article:
    """Cut an article longer than MAX_ARTICLE_CHARS at a line break (or a space), with a warning."""
    if len(article.text) <= MAX_ARTICLE_CHARS:
        return article
    article.text = cut_text(article.text, MAX_ARTICLE_CHARS)
    warnings.append(
        f"{printable(article.id)}: article text longer than {MAX_ARTICLE_CHARS:,} characters; "
        f"only the first {len(article.text):,} are indexed"
    )
    return article


def cut_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit + 1)
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit + 1)
    return text[: cut if cut > 0 else limit].rstrip()


def _json_records(text: str, suffix: str, warnings: list[str], rel: str) -> list[tuple[str, dict[str, Any]]]:
    records: list[tuple[str, dict[str, Any]]] = []
    if suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                warnings.append(f"{printable(rel)}:{n}: malformed JSON ({e.msg}), line skipped")
                continue
            if isinstance(obj, dict):
                records.append((_record_key(obj, str(n)), obj))
            else:
                warnings.append(f"{printable(rel)}:{n}: not a JSON object, line skipped")
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
    body = body[: 4 * MAX_ARTICLE_CHARS]  # the rest would be cut anyway: do not normalise megabytes
    if "<p" in body or "<div" in body:
        html = from_html(body, rel)
        body = html.text if html else ""
    body = normalize(body)
    title = one_line(_first(obj, "title", "headline") or "")
    if not body:
        return None
    return Article(
        id=f"{rel}#{key}",
        path=rel,
        title=title or first_words(body),
        text=f"{title}\n{body}" if title else body,
        date=parse_date(_first(obj, *DATE_KEYS) or "") or body_date(body),
        outlet=one_line(_outlet_field(obj) or "") or body_outlet(body),
        url=one_line(_first(obj, "url", "link", "uri") or "") or None,
    )


# Publication-date fields of JSON records and front matter, most specific first (never "updated").
DATE_KEYS = (
    "datePublished",
    "published_at",
    "publishedAt",
    "published_date",
    "publication_date",
    "publish_date",
    "pubDate",
    "pubdate",
    "published",
    "date",
)


def _outlet_field(obj: dict[str, Any]) -> str | None:
    """The outlet from source/outlet/site/publisher, also when given as {"name": ...} (schema.org style)."""
    for key in ("source", "outlet", "site", "sitename", "site_name", "publisher"):
        value = obj.get(key)
        if isinstance(value, dict):
            value = value.get("name")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def from_html(html: str, rel: str) -> Article | None:
    """Main text and metadata by trafilatura, which drops menus, link lists and footers."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        # metadata only (meta tags, schema.org, <time>, the URL): the extensive search would take any
        # date written in the text for the publication date
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None:
        return None
    meta = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    body = normalize(meta.get("text") or "")
    if not any(is_prose(line) for line in body.split("\n")):
        return None  # no sentence at all: a page without an article (only its menu or a caption)
    title = one_line(meta.get("title") or "")
    if title and not body.startswith(title):
        body = f"{title}\n{body}"
    return Article(
        id=rel,
        path=rel,
        title=title or first_words(body),
        text=body,
        date=parse_date(str(meta.get("date") or "")) or body_date(body),
        outlet=one_line(str(meta.get("sitename") or "")) or body_outlet(body),
        url=one_line(str(meta.get("url") or "")) or None,
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
    title = one_line(meta.get("title", "")) or cleaned.title
    body = "\n".join(cleaned.body)
    # a real headline heads the text (it is searchable); a stand-in made of the first words is not
    # added, so every line of the text is a line of the input
    if title and not body.startswith(title):
        body = f"{title}\n{body}"
    header = "\n".join(cleaned.header)
    return Article(
        id=rel,
        path=rel,
        title=title or first_words(cleaned.body[0]),
        text=body,
        date=parse_date(_first(meta, *DATE_KEYS) or "") or find_date(header) or body_date(body),
        outlet=one_line(meta.get("source") or meta.get("outlet") or "")
        or find_outlet(header + "\n" + body[:200])
        or body_outlet(body),
        url=one_line(meta.get("url", "")) or find_url(header),
    )


ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")


def normalize(text: str) -> str:
    """Unify newlines and spaces and drop control characters and terminal escape sequences (which
    must never reach a terminal from a scraped page), so offsets mean the same everywhere."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub("[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", "\n", text)  # what str.splitlines() splits on
    text = ANSI.sub("", text)
    text = re.sub(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b\ufeff]", "", text)
    text = re.sub(r"[ \t]+", " ", text)
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def one_line(text: str) -> str:
    """A metadata field (title, outlet, URL) as one clean line."""
    return " ".join(normalize(text).split("\n"))[:1000]


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_words(text: str, n: int = 12) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
DATE_PATTERNS = [
    re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b"),
    re.compile(rf"\b((?:{MONTHS})[a-z]*\.?)\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?((?:{MONTHS})[a-z]*\.?),?\s+(\d{{4}})\b", re.I),
]


def parse_date(value: str) -> str | None:
    """An ISO date from the usual ways articles write one (ISO 8601, "July 12, 2019", "12 Jul 2019",
    RFC 2822, 2019/07/12, a Unix timestamp), or None. Day-month order is never guessed: "07/12/2019" is None."""
    value = value.strip()
    if not value:
        return None
    try:
        # the day as written where it was published: "2019-07-12T23:30:00-05:00" is the 12th
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    if re.fullmatch(r"\d{10}(\d{3})?(\.\d+)?", value):  # Unix seconds or milliseconds
        seconds = float(value) / (1000 if len(value.split(".")[0]) == 13 else 1)
        if 315532800 <= seconds <= 4102444800:  # 1980-2100: anything else is not a publication date
            return datetime.fromtimestamp(seconds, tz=timezone.utc).date().isoformat()
        return None
    return find_date(value)


def find_date(text: str) -> str | None:
    explicit = re.search(r"(?im)^(?:date|published|posted)(?:\s+on)?[:\s]+(.+)$", text)
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


def body_date(body: str) -> str | None:
    """The date of a dateline opening the article ("KAZAN, June 10, 2019 (Xinhua) --" gives 2019-06-10);
    a dateline without a year gives --MM-DD, never a guessed year. Only used when no page date exists."""
    from qa.dates import dateline_date, find_dateline

    for line in body.split("\n", 3)[:3]:  # the title line may come first
        dateline = find_dateline(line)
        if dateline is not None:
            return dateline_date(dateline)
    return None


def body_outlet(body: str) -> str | None:
    """The agency of a dateline ("(Xinhua)"), when no outlet is given elsewhere."""
    from qa.dates import find_dateline

    for line in body.split("\n", 3)[:3]:
        dateline = find_dateline(line)
        if dateline is not None and dateline.outlet:
            return one_line(dateline.outlet) or None
    return None


def _month(name: str) -> int:
    return MONTH_ABBREVIATIONS.index(name[:3].lower()) + 1


# not MONTHS.split("|"): that lists both "sep" and "sept", which put October at 11
MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


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
