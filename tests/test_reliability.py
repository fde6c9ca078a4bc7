"""Reliability (issue 7): bad questions, bad corpus files, bad paths, damaged indexes, duplicates,
concurrent runs and SIGKILLed runs. Bookkeeping tests use the HashEmbedder; a few go through the
real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import config
from qa.boilerplate import clean_lines
from qa.chunk import chunk_text, split_sentences
from qa.corpus import staleness
from qa.errors import IndexLocked, IndexMismatch, IndexMissing, QAError
from qa.indexformat import CATALOG, SCHEMA_VERSION, VECTORS
from qa.ingest import CONTROL, MAX_ARTICLE_CHARS, from_text, list_files, normalize, parse_file
from qa.retrieve import Retriever, check_question
from qa.store import Catalog, DerivedUnusable, IndexUnwritable, WriteLock, read_faiss
from qa.sync import Indexer

from .conftest import ROOT, SEEDS, HashEmbedder, Interrupting, ids_agree

PARAGRAPH = "The council met on {day} and agreed item number {n} of the plan for the {thing} after a long debate."


def article(title: str, n: int, thing: str) -> str:
    return title + "\n" + "\n".join(PARAGRAPH.format(day="Monday", n=i, thing=thing) for i in range(n)) + "\n"


def run(corpus: Path, index: Path, embedder=None, **kw):
    return Indexer(corpus, index, embedder or HashEmbedder()).run(**kw)


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("qa: error: ")
    return lines[0]


def qa_subprocess(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "good.txt").write_text(article("Council approves harbour plan", 4, "harbour"))
    return folder


@pytest.fixture
def cli(capsys):
    """`qa ...` in this process, with the HashEmbedder (or `embedder=`): (exit code, stdout, stderr)."""
    import qa.cli
    from qa.service import Library

    def call(*args: str, embedder=None):
        def library(settings):
            return Library(settings, embedder or HashEmbedder(), qa.cli.warn)

        try:
            qa.cli.main(list(args), library=library)
            code = 0
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


# --- questions -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, message",
    [
        ("", "question is empty"),
        (" \t\n  ", "question is empty"),
        ("x" * 10_000, "limit is 2000"),
        ("\x1b[2J\x1b[H\x07", "question is empty"),
    ],
)
def test_bad_questions_are_one_line_errors_through_the_real_cli(question, message, tmp_path):
    out = qa_subprocess("ask", question, "--corpus", str(SEEDS), "--index", str(tmp_path / "index"))
    assert out.returncode == 1
    assert message in one_line_error(out.stderr)
    assert not (tmp_path / "index").exists()  # refused before any index or model work


ESCAPES = "\x1b]0;pwned\x07\x1b[31mWhere\x1b[0m is the \x07next\x01 forum\x9b2J hosted?\r\x1b[2K"  # argv has no NUL


def test_escape_sequences_in_the_question_never_reach_the_terminal(seed_corpus, seed_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    out = qa_subprocess("ask", ESCAPES, "--corpus", str(seed_corpus), "--index", str(index))
    assert out.returncode == 0, out.stderr
    assert "Taganrog" in out.stdout
    for stream in (out.stdout, out.stderr):
        assert "\x1b" not in stream and "\x07" not in stream and "\x9b" not in stream and "\x00" not in stream


def test_check_question_strips_controls_and_escapes():
    assert check_question(ESCAPES) == "Where is the next forum hosted?"
    assert check_question("Where\x00 is\x7f it?") == "Where is it?"
    assert check_question("  Où est   le forum ?\u2028 ") == "Où est le forum ?"
    assert check_question("\udcff bytes") == "? bytes"  # undecodable argv bytes


@pytest.mark.parametrize(
    "question",
    [
        "Где пройдёт следующий форум?",
        "下一届论坛在哪里举办？",
        "Wo findet das nächste Forum statt?",
        "🚀🔥 forum?",
        "🤷",
        "مكان المنتدى القادم؟",
    ],
)
def test_non_english_and_emoji_questions_answer_or_say_no_answer(
    question, cli, embedder, seed_corpus, seed_index, tmp_path
):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    out = qa_subprocess("ask", question, "--corpus", str(seed_corpus), "--index", str(index))
    assert out.returncode == 0 and out.stdout.strip(), out.stderr
    assert "Traceback" not in out.stderr
    code, out, err = cli(
        "ask", question, "--json", "--corpus", str(seed_corpus), "--index", str(index), embedder=embedder
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["question"] == question and isinstance(data["answered"], bool)


# --- corpus files ---------------------------------------------------------------------------------------
FRENCH = (
    "Le maire de Montréal a annoncé lundi que le nouveau pont ouvrira en mai prochain après trois ans "
    "de travaux. Les élèves étaient très contents de la nouvelle."
)
RUSSIAN = (
    "Мэр Москвы объявил в понедельник, что новый мост откроется в мае после трёх лет строительства. "
    "Жители города довольны этим решением."
)
CHINESE = "北京市政府周一宣布，新的大桥将在三年施工后于五月开通。市民们对此表示非常高兴，记者报道了这一消息。"


def write_bad_corpus(folder: Path) -> None:
    """One file per kind of bad input, beside a good article."""
    (folder / "png.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    rng = random.Random(7)
    (folder / "noise.md").write_bytes(bytes(rng.choice(range(1, 256)) for _ in range(4000)))
    (folder / "latin1.txt").write_bytes(f"Pont de Montréal\n{FRENCH}\n".encode("latin-1"))
    (folder / "cp1251.txt").write_bytes(f"Новый мост в Москве\n{RUSSIAN}\n".encode("cp1251"))
    (folder / "gbk.txt").write_bytes(f"北京新大桥将于五月开通\n{CHINESE}\n".encode("gbk"))
    (folder / "utf16.txt").write_bytes(f"Pont de Montréal en UTF-16\n{FRENCH}\n".encode("utf-16"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_text("\n \n\t\n")
    (folder / "menu.txt").write_text("Home\nWorld\nSport\nMost Read\nTop 10\nShare this\nCopyright 2024\n")
    (folder / "head-only.html").write_text("<html><head><title>Only a title</title></head></html>")
    (folder / "empty-body.html").write_text("<html><head><title>T</title></head><body><nav>Home</nav></body></html>")
    (folder / "lines.jsonl").write_text(
        '{"id": "ok1", "title": "Bridge opens", "text": "The new bridge opened to traffic on Monday morning."}\n'
        "{broken json\n"
        "[1, 2, 3]\n"
        '{"id": "empty", "title": "No body"}\n'
        '{"id": "ok2", "title": "Ferry returns", "text": "The ferry service returned after a long winter break."}\n'
    )
    (folder / "broken.json").write_text('{"title": "x", "text": ')
    (folder / "loop").mkdir()
    (folder / "loop" / "again").symlink_to(folder)  # a symlink loop
    (folder / "gone.txt").symlink_to(folder / "nowhere.txt")  # dangling link
    os.mkfifo(folder / "pipe.txt")  # reading it would block forever
    (folder / "\x1b[31mred.txt").write_text(article("Escape sequence in a file name", 2, "name"))
    (folder / "ansi.txt").write_text(
        "Council \x1b[31mred\x1b[0m headline here\n"
        "The council \x1b]0;pwned\x07agreed the \x9b2Jplan on Monday after a debate.\n"
    )
    os.close(os.open(os.fsencode(folder) + b"/caf\xe9.txt", os.O_CREAT | os.O_WRONLY))  # not UTF-8


class Alarm:
    """Fail instead of hanging forever (a FIFO opened for reading blocks)."""

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._raise)
        signal.alarm(60)

    def __exit__(self, *exc):
        signal.alarm(0)

    @staticmethod
    def _raise(*_):
        raise TimeoutError("hung")


def test_bad_corpus_files_are_skipped_with_a_warning_naming_each(corpus, tmp_path):
    write_bad_corpus(corpus)
    index = tmp_path / "index"
    with Alarm():
        report = run(corpus, index)
    warnings = "\n".join(report.warnings)
    expected = {
        "png.txt": "binary file",
        "noise.md": "binary",
        "empty.txt": "empty file",
        "blank.md": "empty file",
        "menu.txt": "no article text",
        "head-only.html": "no article text",
        "empty-body.html": "no article text",
        "broken.json": "malformed JSON at line 1",
        "lines.jsonl:2": "malformed JSON",
        "lines.jsonl:3": "not a JSON object",
        "lines.jsonl#empty": "no article text",
        "gone.txt": "broken or looping symbolic link",
        "pipe.txt": "not a regular file",
        "caf\\xe9.txt": "not valid UTF-8",
    }
    for name, reason in expected.items():
        assert any(name in w and reason in w for w in report.warnings), (name, warnings)
    assert "\x1b" not in warnings and "\\x1b[31mred.txt" not in warnings  # the odd name is indexed, not skipped
    catalog = Catalog(index)
    texts = {r[0]: r[1] for r in catalog.db.execute("SELECT id, text FROM articles")}
    outlets = [r[0] for r in catalog.db.execute("SELECT title || coalesce(outlet, '') FROM articles")]
    catalog.close()
    assert set(texts) == {
        "good.txt",
        "latin1.txt",
        "cp1251.txt",
        "gbk.txt",
        "utf16.txt",
        "lines.jsonl#ok1",
        "lines.jsonl#ok2",
        "\x1b[31mred.txt",
        "ansi.txt",
    }
    assert FRENCH in texts["latin1.txt"] and FRENCH in texts["utf16.txt"]  # "è" stays "è"
    assert RUSSIAN in texts["cp1251.txt"] and CHINESE in texts["gbk.txt"]
    assert texts["ansi.txt"] == "Council red headline here\nThe council agreed the plan on Monday after a debate."
    assert not any(c in "".join(texts.values()) + "".join(outlets) for c in "\x1b\x07\x9b\x00")
    assert ids_agree(index)
    # second run: nothing to redo, the unreadable files are remembered until they change
    again = run(corpus, index)
    assert again.added == again.changed == again.removed == 0 and again.chunks_embedded == 0


def test_warnings_and_answers_through_the_cli_are_printable(corpus, tmp_path, cli):
    write_bad_corpus(corpus)
    index = tmp_path / "index"
    with Alarm():
        code, out, err = cli("index", "--corpus", str(corpus), "--index", str(index))
    assert code == 0
    assert "qa: warning: skipped pipe.txt: not a regular file" in err
    assert "\x1b" not in err and "\udce9" not in err
    code, out, err = cli("ask", "escape sequence in a file name", "--corpus", str(corpus), "--index", str(index))
    assert code == 0, err
    assert "red.txt" in out and "\x1b" not in out  # the path is shown with the control character replaced


def test_an_unreadable_file_is_skipped_then_retried_once_readable(corpus, tmp_path, monkeypatch):
    """Running as root, chmod 000 does not stop reads; an open() that fails stands in for it."""
    (corpus / "locked.txt").write_text(article("Locked article about the museum", 3, "museum"))
    real_open = os.open

    def failing_open(path, flags, *args, **kw):
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kw)

    index = tmp_path / "index"
    monkeypatch.setattr(os, "open", failing_open)
    report = run(corpus, index)
    assert any("skipped locked.txt: Permission denied" in w for w in report.warnings), report.warnings
    assert report.added == 1
    report = run(corpus, index)  # still unreadable: skipped again, nothing else happens
    assert report.added == 0 and any("locked.txt" in w for w in report.warnings)
    monkeypatch.setattr(os, "open", real_open)  # permission fixed: size and mtime unchanged, still retried
    report = run(corpus, index)
    assert report.added == 1 and not report.warnings


def test_list_files_does_not_hang_on_pipes_or_loops(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "up").symlink_to(tmp_path)
    (tmp_path / "d" / "a.txt").write_text("x")
    skipped: list[str] = []
    with Alarm():
        assert [p.name for p in list_files(tmp_path, skipped)] == ["a.txt"]
        from qa.ingest import Unreadable

        with pytest.raises(Unreadable, match="not a regular file"):
            parse_file(tmp_path / "pipe.txt", tmp_path)
    assert skipped == ["skipped pipe.txt: not a regular file"]


BIG_SCRIPT = """
import os, sys, time
sys.path.insert(0, os.environ["QA_ROOT"])
from pathlib import Path
from tests.conftest import HashEmbedder
from qa.sync import Indexer
started = time.perf_counter()
report = Indexer(Path(sys.argv[1]), Path(sys.argv[2]), HashEmbedder()).run()
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(time.perf_counter() - started, peak // 1024)
print("\\n".join(report.warnings))
"""


def test_a_50_mb_article_is_indexed_in_part_with_a_warning(tmp_path):
    """Policy: a page (.txt .md .html) is read up to 4 MB and an article's text is cut at 500,000
    characters (a long feature is ~60,000), each with a warning; a .json/.jsonl collection is read
    whole up to 200 MB, each record cut like an article."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    line = "The committee examined budget line {} and approved the spending after a short debate.\n"
    block = "".join(line.format(i) for i in range(1000)).encode()
    with open(corpus / "huge.txt", "wb") as f:
        f.write(b"A very long report on the budget\n")
        while f.tell() < 50 * 2**20:
            f.write(block)
    body = block.decode().replace("\n", " ") * 600  # one 50 MB JSONL record
    (corpus / "huge.jsonl").write_text(json.dumps({"id": "big", "title": "Long record", "text": body}) + "\n")
    index = tmp_path / "index"
    out = subprocess.run(
        [sys.executable, "-c", BIG_SCRIPT, str(corpus), str(index)],
        capture_output=True,
        text=True,
        env={**os.environ, "QA_ROOT": str(ROOT)},
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    seconds, peak_mb = out.stdout.split("\n")[0].split()
    assert float(seconds) < 60 and int(peak_mb) < 600, out.stdout
    assert "huge.txt: larger than 4 MB; only the first 4 MB are indexed" in out.stdout
    assert "huge.txt: article text longer than 500,000 characters" in out.stdout
    assert "huge.jsonl#big: article text longer than 500,000 characters" in out.stdout
    catalog = Catalog(index)
    lengths = dict(catalog.db.execute("SELECT id, length(text) FROM articles"))
    last = catalog.db.execute(
        'SELECT a.text, c.start, c."end", c.text FROM chunks c JOIN articles a '
        "ON a.id = c.article_id ORDER BY c.id DESC LIMIT 1"
    ).fetchone()
    catalog.close()
    assert set(lengths) == {"huge.txt", "huge.jsonl#big"}
    assert all(MAX_ARTICLE_CHARS - 200 < n <= MAX_ARTICLE_CHARS for n in lengths.values())
    assert last[0][last[1] : last[2]] == last[3]


# --- paths ----------------------------------------------------------------------------------------------
def test_missing_empty_or_file_corpus_is_a_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    for corpus, message in [
        (tmp_path / "missing", "does not exist"),
        (tmp_path / "empty", "has no .txt"),
        (tmp_path / "file", "is not a folder"),
        (
            tmp_path / "links",
            ("has no .txt, .md, .html, .json or .jsonl files (skipped gone.txt: broken or looping symbolic link)"),
        ),
    ]:
        out = qa_subprocess("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
        assert out.returncode == 1 and message in one_line_error(out.stderr)


def test_an_index_folder_that_cannot_be_written_is_a_one_line_error(corpus, tmp_path):
    (tmp_path / "file").write_text("a regular file, so no folder can be made under it, even as root")
    bad = tmp_path / "file" / "index"
    with pytest.raises(IndexUnwritable, match="cannot write the index folder"):
        run(corpus, bad)
    for args in (["index"], ["ask", "Where?"]):
        out = qa_subprocess(*args, "--corpus", str(corpus), "--index", str(bad))
        assert out.returncode == 1 and "cannot write the index folder" in one_line_error(out.stderr)
    out = qa_subprocess("status", "--corpus", str(corpus), "--index", str(bad))
    assert out.returncode == 0 and "not built yet" in out.stdout  # status only reads: nothing to fail


def test_write_errors_during_a_run_become_a_one_line_error(corpus, tmp_path, monkeypatch, cli):
    """Disk full while saving the FAISS file: a QAError, and the catalogue stays consistent."""
    import qa.store

    def full(*args, **kw):
        raise OSError(28, "No space left on device")

    index = tmp_path / "index"
    monkeypatch.setattr(qa.store, "atomic_write", full)
    code, _, err = cli("index", "--corpus", str(corpus), "--index", str(index))
    assert code == 1 and "No space left on device" in one_line_error(err)
    monkeypatch.undo()
    assert ids_agree(index)
    assert run(corpus, index).chunks_embedded == 0  # the catalogue was committed; only derived files redone


# --- damage ---------------------------------------------------------------------------------------------
@pytest.fixture
def built(corpus, tmp_path):
    for i in range(3):
        (corpus / f"extra{i}.txt").write_text(article(f"Council approves plan number {i}", 5, f"thing{i}"))
    index = tmp_path / "index"
    run(corpus, index)
    return corpus, index


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -1, None])
def test_truncated_or_deleted_vectors_file_is_rebuilt_from_stored_vectors(built, keep):
    corpus, index = built
    data = (index / VECTORS).read_bytes()
    if keep is None:
        (index / VECTORS).unlink()
    else:
        n = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
        (index / VECTORS).write_bytes(data[:n])
    assert ids_agree(index)  # readers rebuild it in memory
    reader = Retriever(index, HashEmbedder())
    reader.close()
    if keep is None:
        assert reader.warnings == []  # a missing file is rebuilt quietly: nothing was damaged
    else:  # a damaged one is rebuilt too, and the reader says so
        assert len(reader.warnings) == 1 and reader.warnings[0].startswith("vectors.faiss")
        assert "qa index" in reader.warnings[0]
    embedder = HashEmbedder()
    report = run(corpus, index, embedder)
    assert embedder.embedded == []
    assert any(w.startswith("vectors.faiss is") and "nothing re-embedded" in w for w in report.warnings)
    catalog = Catalog(index)
    read_faiss(index, catalog.tag())  # current again: no DerivedUnusable
    catalog.close()


def test_a_vectors_file_with_the_wrong_vectors_is_not_trusted(built, tmp_path):
    """A FAISS file from another state of the index, with its generation file copied along."""
    corpus, index = built
    old = tmp_path / "old"
    shutil.copytree(index, old)
    (corpus / "extra0.txt").unlink()
    run(corpus, index)
    catalog = Catalog(index)
    tag = catalog.tag()
    catalog.close()
    shutil.copy(old / VECTORS, index / VECTORS)
    (index / (VECTORS + ".generation")).write_text(str(tag))
    with pytest.raises(DerivedUnusable, match="holds"):  # the chunk count in the tag does not match
        read_faiss(index, tag)
    assert ids_agree(index)


def test_missing_bm25_folder_is_rebuilt(built):
    corpus, index = built
    shutil.rmtree(index / "bm25")
    r = Retriever(index, HashEmbedder())
    assert r.search("council plan harbour", mode="bm25")
    r.close()
    embedder = HashEmbedder()
    report = run(corpus, index, embedder)
    assert embedder.embedded == [] and any("BM25" in w for w in report.warnings)
    assert (index / "bm25").is_dir()


def test_deleted_catalogue_is_reported_then_rebuilt_from_the_corpus(built, cli):
    corpus, index = built
    (index / CATALOG).unlink()
    with pytest.raises(IndexMissing, match="run `qa index`"):
        Retriever(index, HashEmbedder())
    code, _, err = cli("ask", "harbour plan", "--no-sync", "--corpus", str(corpus), "--index", str(index))
    assert code == 1 and "run `qa index`" in one_line_error(err)
    report = run(corpus, index)
    assert report.added == 4
    assert ids_agree(index)


def test_a_leftover_write_ahead_log_does_not_damage_a_new_catalogue(built):
    """catalog.sqlite deleted by hand while its -wal file (with committed pages) stays behind."""
    corpus, index = built
    keep = sqlite3.connect(index / CATALOG)  # holds the WAL open so it is not checkpointed away
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("INSERT INTO settings VALUES ('junk', 'x')")
    keep.commit()
    wal = (index / (CATALOG + "-wal")).read_bytes()
    assert wal
    keep.close()
    (index / CATALOG).unlink()
    (index / (CATALOG + "-wal")).write_bytes(wal)
    report = run(corpus, index)
    assert report.added == 4
    catalog = Catalog(index)
    assert catalog.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "junk" not in catalog.settings()
    catalog.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_catalogue_explains_and_index_rebuild_repairs_it(built, cli, damage):
    corpus, index = built
    path = index / CATALOG
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 500)
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    (index / (CATALOG + "-wal")).unlink(missing_ok=True)
    for args in (["index"], ["ask", "harbour plan", "--no-sync"], ["status"]):
        code, _, err = cli(*args, "--corpus", str(corpus), "--index", str(index))
        assert code == 1 and "qa index --rebuild" in one_line_error(err), err
    (index / "query-encoder.onnx").write_bytes(b"exported from the old model")
    code, _, err = cli("index", "--rebuild", "--corpus", str(corpus), "--index", str(index))
    assert code == 0, err
    assert "4 added" in err
    assert ids_agree(index)
    assert not (index / ".rebuild").exists()
    assert not (index / "query-encoder.onnx").exists()  # an older per-index export is removed


def test_a_killed_writer_leaves_no_temporary_files_behind(built):
    corpus, index = built
    leftovers = [
        index / ".vectors.faiss.123.tmp",
        index / ".vectors.faiss.generation.123.tmp",
        index / ".query-encoder.onnx.77.tmp",
        index / "bm25" / ".generation.9.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"x" * 1000)
    (index / ".bm25.tmp").mkdir()
    (index / ".bm25.old").mkdir()
    run(corpus, index)
    assert not any(p.exists() for p in leftovers)
    assert not (index / ".bm25.tmp").exists() and not (index / ".bm25.old").exists()
    assert ids_agree(index)


def test_an_interrupted_rebuild_keeps_the_old_index_and_the_next_rebuild_resumes(built, monkeypatch):
    corpus, index = built
    for i in range(10):
        (corpus / f"more{i}.txt").write_text(article(f"Council approves more plans {i}", 30, f"more{i}"))
    run(corpus, index)
    other = Interrupting(after=3)
    other.name = "another-model"
    with pytest.raises(KeyboardInterrupt):
        Indexer(corpus, index, other, batch_texts=20).run(rebuild=True)
    r = Retriever(index, HashEmbedder())  # the old index, old model, still answers
    assert r.search("council plan")
    r.close()
    assert (index / ".rebuild" / CATALOG).exists()
    resumed = HashEmbedder()
    resumed.name = "another-model"
    report = Indexer(corpus, index, resumed).run(rebuild=True)
    assert report.unchanged > 0 and report.added == 14 - report.unchanged  # work done before the kill is kept
    assert not (index / ".rebuild").exists()
    r = Retriever(index, resumed)
    assert r.search("council plan") and r.catalog.counts()[0] == 14
    r.close()
    with pytest.raises(QAError):
        Retriever(index, HashEmbedder())  # the old model's index is gone: mismatch, not a mix


# --- duplicates -----------------------------------------------------------------------------------------
def test_duplicate_articles_are_indexed_once_and_both_paths_known(corpus, tmp_path):
    text = (corpus / "good.txt").read_text()
    (corpus / "sub").mkdir()
    (corpus / "sub" / "third.txt").write_text(text)
    (corpus / "zcopy.txt").write_text(text)
    index = tmp_path / "index"
    embedder = HashEmbedder()
    report = run(corpus, index, embedder)
    assert report.added == 3 and report.duplicates == 2 and "2 of them duplicates" in report.summary()
    catalog = Catalog(index)
    assert catalog.counts()[0] == 1
    every_path = ["good.txt", "sub/third.txt", "zcopy.txt"]
    assert [a.path for a in catalog.copies("good.txt")] == every_path
    assert [a.path for a in catalog.copies("zcopy.txt")] == every_path
    assert catalog.duplicates_of("good.txt") == ["sub/third.txt", "zcopy.txt"]
    per_article = dict(catalog.db.execute("SELECT article_id, count(*) FROM chunks GROUP BY article_id"))
    catalog.close()
    assert list(per_article) == ["good.txt"]
    r = Retriever(index, HashEmbedder())
    assert {h.article_id for h in r.search("council harbour plan", k=10)} == {"good.txt"}
    r.close()
    chunks = per_article["good.txt"]

    # the original goes: the first copy inherits its chunks (same ids, nothing re-embedded)
    (corpus / "good.txt").unlink()
    embedder.embedded.clear()
    report = run(corpus, index, embedder)
    assert report.removed == 1 and embedder.embedded == []
    catalog = Catalog(index)
    assert catalog.article("sub/third.txt").duplicate_of is None
    assert catalog.article("zcopy.txt").duplicate_of == "sub/third.txt"
    assert dict(catalog.db.execute("SELECT article_id, count(*) FROM chunks GROUP BY article_id")) == {
        "sub/third.txt": chunks
    }
    catalog.close()
    assert ids_agree(index)

    # the new original changes: the remaining copy takes over its old text and chunks
    (corpus / "sub" / "third.txt").write_text(article("Council rejects harbour plan", 4, "harbour"))
    run(corpus, index, embedder)
    catalog = Catalog(index)
    assert catalog.article("zcopy.txt").duplicate_of is None
    assert catalog.article("sub/third.txt").duplicate_of is None
    assert catalog.counts()[0] == 2 and catalog.duplicates_of("zcopy.txt") == []
    catalog.close()
    assert ids_agree(index)

    # the first copy comes back: a duplicate now, of the file that holds the text
    (corpus / "good.txt").write_text(text)
    report = run(corpus, index, embedder)
    assert report.duplicates == 1
    catalog = Catalog(index)
    assert catalog.article("good.txt").duplicate_of == "zcopy.txt"
    catalog.close()


def test_an_old_catalogue_is_migrated_by_the_next_index_run(corpus, tmp_path):
    """A catalogue of qa 0.1 (no schema version, no text_hash column): readers ask for `qa index`,
    which applies the numbered migrations and keeps every vector."""
    index = tmp_path / "index"
    run(corpus, index)
    db = sqlite3.connect(index / CATALOG)
    db.execute("DROP INDEX IF EXISTS articles_text")
    db.execute("ALTER TABLE articles DROP COLUMN text_hash")
    db.execute("PRAGMA user_version = 0")
    db.commit()
    db.close()
    with pytest.raises(IndexMismatch, match="run `qa index` to update it"):
        Retriever(index, HashEmbedder())
    (corpus / "copy.txt").write_text((corpus / "good.txt").read_text())
    embedder = HashEmbedder()
    report = run(corpus, index, embedder)
    assert report.duplicates == 1 and embedder.embedded == []  # nothing re-embedded
    catalog = Catalog(index)
    assert catalog.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    catalog.close()


# --- concurrency ----------------------------------------------------------------------------------------
INDEX_SCRIPT = """
import os, sys, time
sys.path.insert(0, os.environ["QA_ROOT"])
from tests.conftest import HashEmbedder
import qa.cli
from qa.service import Library
delay = float(os.environ.get("QA_TEST_DELAY", "0"))

class Embedder(HashEmbedder):
    def encode(self, texts, progress=None):
        time.sleep(delay)
        return super().encode(texts, progress)

batch = int(os.environ.get("QA_TEST_BATCH", "64"))
qa.cli.main(sys.argv[1:], library=lambda settings: Library(settings, Embedder(), qa.cli.warn, batch_texts=batch))
"""


def start_index(corpus: Path, index: Path, *extra: str, delay: float = 0.0, batch: int = 64) -> subprocess.Popen:
    """`qa index` (the real CLI code) in another process, with the HashEmbedder."""
    env = {**os.environ, "QA_ROOT": str(ROOT), "QA_TEST_DELAY": str(delay), "QA_TEST_BATCH": str(batch)}
    return subprocess.Popen(
        [sys.executable, "-c", INDEX_SCRIPT, "index", "--corpus", str(corpus), "--index", str(index), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def many_articles(folder: Path, n: int, start: int = 0, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = "council harbour bridge plan mayor budget school river festival market station museum rail".split()
    for i in range(start, start + n):
        paras = [
            " ".join(rng.choice(words) for _ in range(rng.randint(8, 30))).capitalize() + f" number {i} {p}."
            for p in range(rng.randint(3, 12))
        ]
        (folder / f"a{i:04}.txt").write_text(f"Headline about the {rng.choice(words)} story {i}\n" + "\n".join(paras))


def lock_is_held(index: Path) -> bool:
    try:
        with WriteLock(index):
            return False
    except IndexLocked:
        return True
    except QAError:  # the folder is not there yet
        return False


def wait_for_lock(index: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    """Until `proc` holds the write lock: read from the lock file, never by taking the lock to probe
    (a probe that wins the race makes the run it waits for exit with "another qa index")."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if holds_lock(index, proc.pid) and lock_is_held(index):
            return
        time.sleep(0.05)
    raise AssertionError("the index run never took the lock")


def test_a_second_qa_index_exits_with_a_clear_message_and_ask_still_answers(corpus, tmp_path, cli):
    many_articles(corpus, 60)
    index = tmp_path / "index"
    run(corpus, index)  # a complete index of the first articles
    many_articles(corpus, 60, start=60)
    first = start_index(corpus, index, delay=0.5, batch=10)
    try:
        wait_for_lock(index, first)
        out = qa_subprocess("index", "--corpus", str(corpus), "--index", str(index))
        assert out.returncode == 1
        assert "another `qa index` (pid" in one_line_error(out.stderr)
        assert "wait for it to finish" in out.stderr
        code, out, err = cli("ask", "council harbour plan", "--corpus", str(corpus), "--index", str(index))
        assert code == 0 and "answering from its last complete state" in err and out.strip()
        for _ in range(20):  # status while files are swapped under it
            code, out, err = cli("status", "--json", "--corpus", str(corpus), "--index", str(index))
            assert code == 0, err
    finally:
        first.kill()
        first.wait()


def test_readers_keep_answering_while_an_index_run_is_under_way(corpus, tmp_path):
    many_articles(corpus, 40)
    index = tmp_path / "index"
    run(corpus, index)
    many_articles(corpus, 150, start=40, seed=1)
    reader = Retriever(index, HashEmbedder())
    proc = start_index(corpus, index, delay=0.05, batch=20)
    answers = fresh = 0
    try:
        wait_for_lock(index, proc)
        while proc.poll() is None:
            assert reader.search("council harbour plan", k=3)
            answers += 1
            r = Retriever(index, HashEmbedder())  # opened mid-run: sees some committed state, whole
            assert r.search("council harbour plan", k=3)
            r.close()
            fresh += 1
    finally:
        proc.wait()
        reader.close()
    assert proc.returncode == 0, proc.stderr.read()
    assert answers >= 3 and fresh >= 3
    assert ids_agree(index)


# --- kill -9 --------------------------------------------------------------------------------------------
def check_consistent(index: Path, embedder: HashEmbedder) -> int:
    """After a kill: the index opens and answers, catalogue and FAISS ids agree, every article is
    whole (its chunks are exactly those of its text), every duplicate points to an indexed copy."""
    if not (index / CATALOG).exists():
        return 0
    catalog = Catalog(index)
    try:
        assert catalog.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        articles = catalog.db.execute("SELECT id, text, duplicate_of, text_hash FROM articles").fetchall()
        originals = {a[0]: a for a in articles if a[2] is None}
        chunks: dict[str, list[tuple[int, int, str]]] = {}
        for article_id, _seq, start, end, text in catalog.db.execute(
            'SELECT article_id, seq, start, "end", text FROM chunks ORDER BY article_id, seq'
        ):
            chunks.setdefault(article_id, []).append((start, end, text))
        assert set(chunks) <= set(originals)  # no orphaned chunk
        for article_id, text, duplicate_of, text_hash in articles:
            if duplicate_of is not None:
                assert article_id not in chunks
                assert originals[duplicate_of][3] == text_hash
                continue
            expected = chunk_text(
                text,
                embedder.count_tokens,
                embedder.max_tokens,
                config.CHUNK_TARGET_TOKENS,
                config.CHUNK_OVERLAP_SENTENCES,
            )
            assert chunks.get(article_id, []) == [(c.start, c.end, c.text) for c in expected], article_id
        hashes = [a[3] for a in originals.values()]
        assert len(hashes) == len(set(hashes))  # one indexed copy of each text
        n_chunks = sum(len(v) for v in chunks.values())
    finally:
        catalog.close()
    assert ids_agree(index)
    r = Retriever(index, embedder)
    try:
        from qa.answer import answer

        if n_chunks:
            assert r.search("council harbour plan", k=3)
        answer(r, "What did the council agree about the harbour?")
    finally:
        r.close()
    return len(originals)


def mutate(corpus: Path, rng: random.Random, step: int) -> None:
    """New, changed, removed and duplicated articles, so kills also land in those code paths."""
    files = sorted(corpus.glob("*.txt"))
    for path in rng.sample(files, 5):
        path.unlink()
    for path in rng.sample(sorted(corpus.glob("*.txt")), 15):
        path.write_text(path.read_text() + f"\nThe council revised the plan again in round {step}.")
    for path in rng.sample(sorted(corpus.glob("*.txt")), 3):
        shutil.copy(path, corpus / f"dup{step}-{path.name}")
    many_articles(corpus, 30, start=1000 + 30 * step, seed=step)


def holds_lock(index: Path, pid: int) -> bool:
    """The run has taken the write lock (WriteLock writes its pid into the lock file once it holds it)."""
    try:
        return (index / ".lock").read_text() == str(pid)
    except OSError:
        return False


def current_vectors(index: Path) -> bool:
    catalog = Catalog(index)
    try:
        read_faiss(index, catalog.tag())
        return True
    except DerivedUnusable:
        return False
    finally:
        catalog.close()


def generation(index: Path) -> int:
    if not (index / CATALOG).exists():
        return -1
    catalog = Catalog(index)
    try:
        return catalog.generation
    finally:
        catalog.close()


def test_sigkill_at_random_points_never_corrupts_the_index(tmp_path):
    """`qa index` (the CLI code, HashEmbedder) over 300+ articles, SIGKILLed at random moments: after
    each kill the index is checked whole; the corpus changes between runs so kills also land in
    changes, removals, duplicate promotions and `--rebuild`; the last run must finish the job."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    many_articles(corpus, 300)
    for i in range(0, 300, 50):  # duplicates from the start
        shutil.copy(corpus / f"a{i:04}.txt", corpus / f"copy-{i}.txt")
    index = tmp_path / "index"
    embedder = HashEmbedder()
    rng = random.Random(1234)
    kills = completed = rebuild_kills = mid_commit = 0
    started = time.time()
    step = 0
    while kills < 22 and time.time() - started < 90:  # ~35 s here; slack for slower machines
        if kills or completed:
            step += 1
            mutate(corpus, rng, step)  # new work for every run: adds, changes, removals, duplicates
        rebuild = kills in (9, 10, 17)
        before = generation(index)
        proc = start_index(corpus, index, *(["--rebuild"] if rebuild else []), batch=40, delay=0.01)
        deadline = time.time() + 15
        while proc.poll() is None and not holds_lock(index, proc.pid) and time.time() < deadline:
            time.sleep(0.005)
        if kills % 2 and not rebuild:  # half the kills land inside the commit phase: after k commits
            commits = rng.randint(1, 5)
            while proc.poll() is None and generation(index) < before + commits and time.time() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.03))
        else:  # the others at any moment of the run: parsing, committing, saving FAISS and BM25 files
            time.sleep(rng.uniform(0.0, 1.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            rebuild_kills += rebuild
            mid_commit += generation(index) > before and not current_vectors(index)
        else:
            assert proc.wait() == 0, proc.stderr.read()
            completed += 1
        check_consistent(index, embedder)
    assert kills >= 20, (kills, completed)
    proc = start_index(corpus, index)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    indexed = check_consistent(index, embedder)
    catalog = Catalog(index)
    stale = staleness(catalog, corpus)
    ids = {r[0] for r in catalog.db.execute("SELECT id FROM articles")}
    catalog.close()
    assert not stale.stale
    assert ids == {p.name for p in corpus.glob("*.txt")}  # every article of the final corpus
    assert indexed == len({p.read_text() for p in corpus.glob("*.txt")})  # each text indexed once
    print(
        f"\nkill test: {kills} SIGKILLs ({rebuild_kills} during --rebuild, {mid_commit} after some but not all "
        f"of a run's commits and files were written), {completed} runs completed between kills, {step} corpus "
        f"changes, {len(ids)} articles at the end, {time.time() - started:.0f} s"
    )


# --- property tests -------------------------------------------------------------------------------------

LINE = st.one_of(
    st.text(max_size=120),
    st.text(alphabet=st.sampled_from("abc XYZ.,!?\t\x1b[]0;m\x07\x9b\u2028\r中é😀-"), max_size=120),
    st.sampled_from(
        [
            "Home",
            "Most Read",
            "Top 10",
            "Share this",
            "Copyright 2020 News Ltd.",
            "date 2020-10-22",
            "BEIJING, Oct. 21 (Xinhua) -- The forum opened on Tuesday in the city.",
            "The council agreed the plan for the harbour after a long debate.",
            "Council approves harbour plan",
            "",
        ]
    ),
)
DOC = st.lists(LINE, max_size=30).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOC)
def test_from_text_never_crashes_and_keeps_only_input_lines(text):
    lines = set(normalize(text).split("\n"))
    article = from_text(text, "x.txt")
    if article is None:
        return
    assert set(article.text.split("\n")) <= lines
    fields = article.text.replace("\n", " ") + article.title + (article.outlet or "") + (article.url or "")
    assert not CONTROL.search(fields)
    assert normalize(article.text) == article.text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30))
def test_clean_lines_keeps_input_lines_in_order(lines):
    cleaned = clean_lines(lines)
    assert cleaned.header == lines[: len(cleaned.header)]
    it = iter(lines[len(cleaned.header) :])
    assert all(any(line == other for other in it) for line in cleaned.body)  # a subsequence
    assert cleaned.title is None or cleaned.title in cleaned.header


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOC, st.integers(8, 60))
def test_any_text_gives_exact_chunks_within_the_limit_covering_every_sentence(text, max_tokens):
    article = from_text(text, "x.txt")
    if article is None:
        return
    count = HashEmbedder().count_tokens
    chunks = chunk_text(article.text, count, max_tokens, max_tokens, 1)
    covered = []
    for c in chunks:
        assert article.text[c.start : c.end] == c.text
        assert count([c.text])[0] <= max_tokens
        covered.extend((c.start + a, c.start + b) for a, b in c.sentences)
    for a, b in split_sentences(article.text):  # every sentence, whole or in pieces, is in a chunk
        pieces = sorted((s, e) for s, e in covered if a <= s and e <= b)
        assert pieces and pieces[0][0] == a and pieces[-1][1] == b, article.text[a:b]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000), st.sampled_from([".txt", ".md", ".html", ".json", ".jsonl"]))
def test_parse_file_on_any_bytes_gives_articles_or_unreadable(tmp_path, data, suffix):
    from qa.ingest import Unreadable

    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    try:
        parsed = parse_file(path, tmp_path)
    except Unreadable:
        return
    for a in parsed.articles:
        assert a.text and not CONTROL.search(a.text.replace("\n", " ") + a.title)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_check_question_returns_a_clean_line_or_a_question_error(question):
    from qa.errors import QuestionError

    try:
        clean = check_question(question)
    except QuestionError:
        return
    assert clean and clean == clean.strip() and "\n" not in clean and len(clean) <= config.MAX_QUESTION_CHARS
    assert not CONTROL.search(clean)


def test_a_folder_that_cannot_be_listed_does_not_remove_its_articles(corpus, tmp_path, monkeypatch):
    (corpus / "sub").mkdir()
    (corpus / "sub" / "inner.txt").write_text(article("Council approves inner plan", 3, "inner"))
    index = tmp_path / "index"
    assert run(corpus, index).added == 2
    real_scandir = os.scandir

    def failing_scandir(path):  # as if the folder's permissions kept us out (tests run as root)
        if os.path.basename(path) == "sub":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", failing_scandir)
    embedder = HashEmbedder()
    report = run(corpus, index, embedder)
    assert report.removed == 0 and any("skipped folder sub: Permission denied" in w for w in report.warnings)
    monkeypatch.undo()
    report = run(corpus, index, embedder)
    assert (report.added, report.removed, report.unchanged) == (0, 0, 2) and embedder.embedded == []
