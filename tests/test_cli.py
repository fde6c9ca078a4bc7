"""The `qa` command in process (the real model, index and corpus), plus the few checks that need a process
of their own: what a cold import loads, `qa watch`, and qa installed from a wheel into a fresh folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

WUXI = "China-Russia digital media cooperation forum boots up in Wuxi"


@pytest.fixture
def cli(embedder, capsys):
    """Run `qa ARGS` in this process with the session's model; returns (exit code, stdout, stderr)."""
    from qa.cli import main, warn
    from qa.service import Library

    def run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(args), library=lambda settings: Library(settings, embedder, warn))
        except SystemExit as e:
            code = int(e.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def copied(seed_corpus, seed_index, tmp_path) -> tuple[Path, Path]:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_corpus, corpus)
    shutil.copytree(seed_index, index)
    return corpus, index


def test_ask_json(cli, copied):
    corpus, index = copied
    code, out, err = cli(
        "ask", "Where is the next forum hosted?", "--json", "--corpus", str(corpus), "--index", str(index)
    )
    assert code == 0, err
    data = json.loads(out)
    assert {"question", "answered", "answer", "hits"} <= set(data)
    assert data["answered"] and "Taganrog" in data["answer"]["text"]
    assert data["answer"]["passage"][data["answer"]["start"] : data["answer"]["end"]] == data["answer"]["text"]
    assert data["answer"]["citation"]["title"] == WUXI
    assert {"article_id", "title", "date", "outlet", "url", "path"} <= set(data["answer"]["citation"])
    assert {"rank", "score", "text", "article_id", "title", "date", "path", "start", "end"} <= set(data["hits"][0])


def test_ask_builds_a_missing_index_then_answers_plain_text(cli, seed_corpus, tmp_path):
    index = tmp_path / "fresh-index"
    question = "How many representatives attended the video conference?"
    code, out, err = cli("ask", question, "--corpus", str(seed_corpus), "--index", str(index))
    assert code == 0, err
    assert "\x1b[" not in out  # plain when not a terminal
    assert "\ufffd" not in out  # line breaks of the passages are printed as line breaks
    assert out.startswith("Answer: ") and "more than 40" in out.split("\n\n")[0]
    assert "2 added" in err
    assert (index / "catalog.sqlite").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", ""], "question is empty"),
        (["ask", "  "], "question is empty"),
        (["ask", "y" * 2500], "limit is 2000"),
        (["ask", "Where?", "--corpus", "/nonexistent/folder"], "does not exist"),
        (["ask", "Where?", "--no-sync", "--index", "/nonexistent/index"], "run `qa index`"),
        (["ask", "Where?", "-k", "0"], "-k must be at least 1"),
        (["eval", "--questions", "/nonexistent/questions.jsonl"], "cannot read question set"),
    ],
)
def test_errors_are_one_line(cli, args, message):
    code, _, err = cli(*args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_empty_corpus(cli, tmp_path):
    (tmp_path / "corpus").mkdir()
    code, _, err = cli("ask", "Where?", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"))
    assert code == 1 and "has no .txt" in err


def test_corrupt_catalogue(cli, seed_corpus, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    (index / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    code, _, err = cli("ask", "Where?", "--no-sync", "--corpus", str(seed_corpus), "--index", str(index))
    assert code == 1 and "damaged" in err and "qa index --rebuild" in err


def test_status_and_index_json(cli, copied):
    corpus, index = copied
    where = ("--corpus", str(corpus), "--index", str(index))
    (corpus / "new.txt").write_text(
        "Headline of a new piece\nThe new bridge in Kellerberg opens on 3 May, the mayor said.\n"
    )
    status = json.loads(cli("status", "--json", *where)[1])
    assert status["stale"] and status["new"] == ["new.txt"] and status["articles"] == 2
    code, out, err = cli("index", "--json", *where)
    assert code == 0, err
    report = json.loads(out)
    assert report["added"] == 1 and report["unchanged"] == 2
    status = json.loads(cli("status", "--json", *where)[1])
    assert not status["stale"] and status["articles"] == 3


def test_status_of_an_index_not_built_yet(cli, seed_corpus, tmp_path):
    code, out, _ = cli("status", "--corpus", str(seed_corpus), "--index", str(tmp_path / "none"))
    assert code == 0 and "not built yet" in out
    assert not (tmp_path / "none").exists()  # status never writes


def test_eval_writes_a_report_only_where_asked(cli, copied, tmp_path):
    corpus, index = copied
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "question": "Where is the next forum hosted?",
                "answers": ["Taganrog"],
                "article": "000_ec996563e8ac1e77.txt",
            }
        )
        + "\n"
    )
    before = set(tmp_path.rglob("*"))
    code, out, err = cli(
        "eval", "--questions", str(questions), "--corpus", str(corpus), "--index", str(index), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["metrics"]["answer_accuracy"] == 1.0
    assert {p for p in tmp_path.rglob("*") if not str(p).startswith(str(index))} == {
        p for p in before if not str(p).startswith(str(index))
    }  # no report written anywhere
    code, _, err = cli(
        "eval",
        "--questions",
        str(questions),
        "--corpus",
        str(corpus),
        "--index",
        str(index),
        "--report",
        str(tmp_path / "r"),
    )
    assert code == 0 and len(list((tmp_path / "r").glob("*.json"))) == 1 and "report written" in err


# --- processes of their own -----------------------------------------------------------------------------
def test_reading_does_not_import_the_writer_textual_or_torch():
    code = (
        "import qa, qa.cli, qa.answer, qa.retrieve, qa.service, sys; "
        "print(*(m in sys.modules for m in ('qa.sync', 'textual', 'torch', 'numba', 'scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.split() == ["False"] * 5, out.stderr


def test_watch_reindexes_a_new_article(copied, tmp_path):
    import signal
    import time

    corpus, index = copied
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    log = tmp_path / "watch.log"  # a file, not a pipe: a full pipe would block the watcher
    watcher = subprocess.Popen(
        [sys.executable, "-m", "qa", "watch", "--corpus", str(corpus), "--index", str(index)],
        cwd=ROOT,
        env=env,
        stderr=log.open("w"),
    )
    from qa.service import open_index

    library = open_index(corpus, index)
    try:
        deadline = time.time() + 60
        while "watching" not in log.read_text() and time.time() < deadline:
            time.sleep(0.2)
        assert "watching" in log.read_text()
        (corpus / "tunnel.txt").write_text(
            "Tunnel opens under the Kellerberg pass\n"
            "The new rail tunnel under the Kellerberg pass opened on Tuesday after nine years of work.\n"
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            status = library.status(sizes=False)
            if not status.stale and status.articles == 3:
                break
            time.sleep(1)
        assert status.articles == 3 and not status.stale
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
def test_installed_from_a_wheel_answers_with_its_bundled_seeds_and_writes_outside_the_package(tmp_path):
    """`pip install .` (not editable): the seeds ship as package data and the index goes to the user's
    data folder. The wheel is installed without dependencies into a folder put first on sys.path, so the
    test needs no network and the source checkout is not importable from where it runs."""
    wheels, target, home, cwd = (tmp_path / d for d in ("wheels", "site", "home", "elsewhere"))
    for d in (home, cwd):
        d.mkdir()
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            *map(str, wheels.glob("qa-*.whl")),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    before = sorted(p.relative_to(target) for p in target.rglob("*") if "__pycache__" not in p.parts)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HOME=str(home), XDG_DATA_HOME="", XDG_CACHE_HOME="", HF_HUB_OFFLINE="1", PYTHONPATH=str(target))
    code = (
        "import sys, qa.cli; assert qa.cli.__file__.startswith(sys.argv[1]), qa.cli.__file__; qa.cli.main(sys.argv[2:])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(target), "ask", "Where is the next forum hosted?", "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTHONSAFEPATH": "1"},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "Taganrog" in json.loads(out.stdout)["answer"]["text"]
    after = sorted(p.relative_to(target) for p in target.rglob("*") if "__pycache__" not in p.parts)
    assert after == before  # nothing written inside the installed package
    assert list(home.rglob("catalog.sqlite"))  # the index lives in the user's data folder
    assert not list(cwd.iterdir())
