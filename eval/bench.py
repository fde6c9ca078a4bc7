"""Benchmarks: indexing throughput against raw encode, incremental costs, query latency at scale,
cold start and memory. Prints a table and writes eval/reports/bench-<time>.json.

    python eval/bench.py index [--limit 1000]     # SciFact abstracts as articles: raw encode vs qa fp32 and int8
    python eval/bench.py cold                     # qa ask (median of 5), qa --help, modules loaded; includes tui
    python eval/bench.py query [--sizes 1000,10000,100000]
    python eval/bench.py tui [--tui-runs 5]       # TUI first paint and first answer in a pty, and a bare Textual app
    python eval/bench.py ivf [--ivf-size 400000]  # IVF vs exact search, nprobe for recall@10 >= 0.95
    python eval/bench.py peak [--peak-sizes 300,1200,4800]  # index-process peak RSS, up to 100k chunks
    python eval/bench.py all                      # all but ivf and peak

The machine's speed swings from minute to minute, so indexing is reported as a ratio against raw
`SentenceTransformer.encode` of the same texts, measured in the same process right after.
"""

from __future__ import annotations

import argparse
import codecs
import fcntl
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
REPORTS = ROOT / "eval" / "reports"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_corpus(folder: Path, limit: int) -> list[dict]:
    """SciFact abstracts, one JSON article per file (as a scraper would drop them)."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = []
    with open(SCIFACT / "corpus.jsonl") as f:
        for line in f:
            doc = json.loads(line)
            docs.append(doc)
            if len(docs) == limit:
                break
    for doc in docs:
        (folder / f"{doc['_id']}.json").write_text(json.dumps({"title": doc["title"], "text": doc["text"]}))
    return docs


def bench_index(limit: int) -> dict:
    """One run: raw `SentenceTransformer.encode` of the texts qa embeds (before, between and after), full `qa index`
    builds with fp32 and with int8, and the embedder alone on the same texts. Ratios are raw seconds / qa seconds."""
    from qa.embed import ModelEmbedder
    from qa.store import Catalog
    from qa.sync import Indexer

    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    corpus = work / "corpus"
    docs = write_corpus(corpus, limit + 1)
    extra = docs.pop()
    (corpus / f"{extra['_id']}.json").unlink()

    fp32 = ModelEmbedder("all-MiniLM-L6-v2")
    int8 = ModelEmbedder("all-MiniLM-L6-v2", quantize=True)
    warnings = [w for w in (fp32.prepare(), int8.prepare()) if w]  # exports (once per machine) outside the timings
    _ = fp32.model  # the baseline's model, loaded outside the timings too
    texts = chunk_and_sentence_texts(corpus, fp32)

    def timed(run) -> float:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        run()
        return time.perf_counter() - started

    def raw() -> float:
        return timed(lambda: fp32.model.encode(texts, batch_size=32))

    def build(embedder, name: str) -> tuple[float, object]:  # type: ignore[no-untyped-def]
        reports = []
        seconds = timed(lambda: reports.append(Indexer(corpus, work / name, embedder).run()))
        return seconds, reports[0]

    # The machine's speed drifts with the other work on it: raw encode brackets each build, and each qa
    # figure is compared with the mean of the raw runs on either side of it.
    raw_s = [raw()]
    fp32_s, report = build(fp32, "fp32")
    raw_s.append(raw())
    int8_s, _ = build(int8, "int8")
    raw_s.append(raw())
    tokenize_s = timed(lambda: fp32.onnx.tokenizer.encode_batch(texts))  # type: ignore[union-attr]
    fp32_embed_s = timed(lambda: fp32.encode(texts))
    int8_embed_s = timed(lambda: int8.encode(texts))
    raw_s.append(raw())
    index = work / "fp32"
    catalog = Catalog(index)
    n_chunks = catalog.counts()[1]
    catalog.close()
    chunks = set(chunk_texts_of(index))
    chunk_share = sum(1 for t in texts if t in chunks) / max(1, len(texts))

    (corpus / f"{extra['_id']}.json").write_text(json.dumps({"title": extra["title"], "text": extra["text"]}))
    add_s, add = build(fp32, "fp32")
    fresh = ModelEmbedder("all-MiniLM-L6-v2")
    noop_s, _ = build(fresh, "fp32")
    size = sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
    shutil.rmtree(work, ignore_errors=True)
    n = len(texts)

    def rate(seconds: float) -> float:
        return round(n / seconds, 1)

    raw_fp32, raw_int8, raw_embed = (raw_s[0] + raw_s[1]) / 2, (raw_s[1] + raw_s[2]) / 2, (raw_s[2] + raw_s[3]) / 2
    return {
        "articles": limit,
        "chunks": n_chunks,
        "texts_embedded": n,
        "chunk_share_of_texts": round(chunk_share, 2),
        "raw_encode_s_runs": [round(s, 1) for s in raw_s],
        "texts_per_s": {
            "raw_sentence_transformers": rate(statistics.median(raw_s)),
            "qa_index_fp32": rate(fp32_s),
            "qa_index_int8": rate(int8_s),
            "qa_embed_only_fp32": rate(fp32_embed_s),
            "qa_embed_only_int8": rate(int8_embed_s),
        },
        "speedup_vs_raw": {  # target: fp32 >= 1.5, int8 >= 2.5 (the whole `qa index` build)
            "qa_index_fp32": round(raw_fp32 / fp32_s, 2),
            "qa_index_int8": round(raw_int8 / int8_s, 2),
            "qa_embed_only_fp32": round(raw_embed / fp32_embed_s, 2),
            "qa_embed_only_int8": round(raw_embed / int8_embed_s, 2),
        },
        "tokenize_share_of_fp32_embed": round(tokenize_s / fp32_embed_s, 3),
        "build_fp32_s": round(fp32_s, 1),
        "build_int8_s": round(int8_s, 1),
        "add_one_article_s": round(add_s, 2),
        "add_one_share_of_build": round(add_s / fp32_s, 4),
        "add_one_chunks_embedded": add.chunks_embedded,  # type: ignore[attr-defined]
        "no_change_rerun_s": round(noop_s, 2),
        "no_change_loaded_onnx": fresh.onnx is not None,
        "no_change_loaded_torch": "model" in fresh.__dict__,
        "index_bytes_per_chunk": round(size / n_chunks),
        "peak_rss_mb": round(peak_rss_mb()),
        "warnings": warnings,
        "build_report": report.summary(),  # type: ignore[attr-defined]
    }


def chunk_and_sentence_texts(corpus: Path, embedder) -> list[str]:  # type: ignore[no-untyped-def]
    """The texts `qa index` embeds for this corpus (chunks and distinct sentences), via the same code."""
    from qa.ingest import list_files, parse_file
    from qa.sync import Indexer

    planner = Indexer(corpus, corpus / ".unused", embedder)
    texts: dict[str, str] = {}
    for path in list_files(corpus):
        for article in parse_file(path, corpus).articles:
            pending = planner._prepare(article, is_new=True)
            texts.update({h: article.text[a:b] for a, b, h in pending.chunks})
            texts.update({h: article.text[a:b] for a, b, h in pending.sentences})
    return list(texts.values())


def chunk_texts_of(index: Path) -> list[str]:
    from qa.store import Catalog

    catalog = Catalog(index)
    try:
        return [r[0] for r in catalog.db.execute("SELECT text FROM chunks")]
    finally:
        catalog.close()


def synthetic_index(source: Path, target: Path, size: int, seed: int = 0, corpus: Path | None = None) -> None:
    """Grow a real index to `size` chunks: copies of real articles with words dropped at random and
    vectors moved by small noise (renormalised), so search does the work it would on real data.
    With `corpus`, each copy is also written there as a file and registered as indexed, so a
    no-change `qa index` over the grown corpus can be timed."""
    from qa.lexical import Lexical
    from qa.store import Catalog, build_faiss, write_faiss

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    shutil.copytree(source, target)
    catalog = Catalog(target)
    articles = [r[0] for r in catalog.db.execute("SELECT id FROM articles WHERE duplicate_of IS NULL")]
    have = catalog.counts()[1]
    copy = 0
    while have < size:
        copy += 1
        with catalog.transaction():
            for article_id in articles:
                if have >= size:
                    break
                a = catalog.article(article_id)
                words = a.text.split(" ")
                text = " ".join(w for w in words if rng.random() > 0.08) or a.text
                new_id = f"{Path(article_id).stem}~{copy}.json"
                if corpus is not None:
                    path = corpus / new_id
                    path.write_text(json.dumps({"title": a.title, "text": text}))
                    st = path.stat()
                    catalog.put_file(new_id, f"synthetic-{new_id}", st.st_size, st.st_mtime_ns)
                # each round of copies is dated in another of ten years (2014-2023) and another of ten
                # outlets, so a date or outlet filter keeping a tenth of the passages can be timed
                dated, outlet = f"{2014 + copy % 10}-06-15", f"Outlet {copy % 10}"
                catalog.db.execute(  # the original's story signature: the copy stands alone (its own story)
                    "INSERT INTO articles (id, path, title, date, outlet, url, text, hash, minhash, story) "
                    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, minhash, ? FROM articles WHERE id = ?",
                    (new_id, new_id, a.title, dated, outlet, a.url, text, f"synthetic-{new_id}", new_id, article_id),
                )
                rows = catalog.db.execute(
                    'SELECT seq, start, "end", vector FROM chunks WHERE article_id = ?', (article_id,)
                ).fetchall()
                for seq, start, end, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32) + nrng.normal(0, 0.02, 384).astype(np.float32)
                    vec /= np.linalg.norm(vec)
                    chunk_text = text[: len(text)]  # offsets stay within the copy's text
                    s, e = min(start, len(text)), min(end, len(text))
                    catalog.db.execute(
                        'INSERT INTO chunks (article_id, seq, start, "end", text, hash, vector) VALUES (?,?,?,?,?,?,?)',
                        (new_id, seq, s, e, chunk_text[s:e], f"synthetic-{new_id}-{seq}", vec.tobytes()),
                    )
                    have += 1
                sents = catalog.db.execute(
                    'SELECT start, "end", hash, vector, tokens FROM sentences WHERE article_id = ?', (article_id,)
                ).fetchall()
                catalog.db.executemany(  # with their word pieces: the late interaction is timed too
                    'INSERT INTO sentences (article_id, start, "end", hash, vector, tokens) VALUES (?,?,?,?,?,?)',
                    [(new_id, min(s, len(text)), min(e, len(text)), h, v, t) for s, e, h, v, t in sents],
                )
    tag = catalog.tag()
    ids, vectors = catalog.all_chunk_vectors()
    write_faiss(target, build_faiss(ids, vectors, vectors.shape[1]), tag)
    Lexical.build(*catalog.all_chunk_texts()).save(target, tag)
    catalog.close()


QUERY_SCRIPT = """
import json, statistics, sys, time
from datetime import date
from pathlib import Path
from qa.embed import ModelEmbedder
from qa.retrieve import Retriever
from qa.answer import answer
questions = json.loads(sys.argv[2])
today = date.today()  # as `qa ask` asks: as of today, with the time re-ranking on
started = time.perf_counter()
r = Retriever(Path(sys.argv[1]), ModelEmbedder('all-MiniLM-L6-v2'))
open_s = time.perf_counter() - started
for q in questions[:5]:
    answer(r, q, as_of=today)
times = []
for q in questions:
    t = time.perf_counter(); answer(r, q, as_of=today); times.append((time.perf_counter() - t) * 1000)
times.sort()
# a filter keeping about a tenth of the passages (the synthetic copies of 2023), applied inside the search
from qa.filters import Filters
only_2023 = Filters(since=date(2023, 1, 1), until=date(2023, 12, 31))
kept = r.catalog.db.execute(
    "SELECT COUNT(*) FROM chunks JOIN articles ON articles.id = chunks.article_id WHERE articles.date LIKE '2023%'"
).fetchone()[0] / max(1, r.catalog.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
filtered = []
for q in questions:
    t = time.perf_counter()
    answer(r, q, as_of=today, filters=only_2023)
    filtered.append((time.perf_counter() - t) * 1000)
filtered.sort()
print(json.dumps({"open_s": round(open_s, 2), "p50_ms": round(statistics.median(times), 1),
    "p95_ms": round(times[int(0.95 * len(times)) - 1], 1), "n": len(times),
    "filtered_p50_ms": round(statistics.median(filtered), 1),
    "filtered_p95_ms": round(filtered[int(0.95 * len(filtered)) - 1], 1), "filter_keeps": round(kept, 3),
    "peak_rss_mb": round(int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024),
    "torch_loaded": "torch" in sys.modules}))
"""


NOOP_SCRIPT = """
import json, sys, time
from pathlib import Path
from qa.embed import ModelEmbedder
from qa.sync import Indexer
embedder = ModelEmbedder('all-MiniLM-L6-v2')
started = time.perf_counter()
report = Indexer(Path(sys.argv[1]), Path(sys.argv[2]), embedder).run()
noop_s = time.perf_counter() - started
# the index process's other big step: FAISS and BM25 rebuilt from the catalogue (vectors, texts)
(Path(sys.argv[2]) / "vectors.faiss").unlink()
started = time.perf_counter()
Indexer(Path(sys.argv[1]), Path(sys.argv[2]), embedder).run()
derived_s = time.perf_counter() - started
hwm = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024
print(json.dumps({"no_change_rerun_s": round(noop_s, 2),
    "articles_unchanged": report.unchanged, "chunks_embedded": report.chunks_embedded,
    "model_loaded": "model" in embedder.__dict__, "torch_loaded": "torch" in sys.modules,
    "rebuild_faiss_bm25_s": round(derived_s, 1), "index_process_peak_mb_without_model": round(hwm)}))
"""


def run_script(script: str, *args: str) -> dict:
    """Run a measurement in a fresh process (its own peak memory) and read the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_query(sizes: list[int], base_limit: int) -> dict:
    from qa.embed import ModelEmbedder
    from qa.sync import Indexer

    work = Path(tempfile.mkdtemp(prefix="qa-bench-q-"))
    corpus, base = work / "corpus", work / "base"
    write_corpus(corpus, base_limit)
    Indexer(corpus, base, ModelEmbedder("all-MiniLM-L6-v2")).run()
    questions = [json.loads(line)["text"] for line in open(SCIFACT / "queries.jsonl")][:200]
    out = {}
    for size in sizes:
        target = work / f"idx-{size}"
        grown = work / f"corpus-{size}"
        shutil.copytree(corpus, grown)
        synthetic_index(base, target, size, corpus=grown)
        out[str(size)] = run_script(QUERY_SCRIPT, str(target), json.dumps(questions))
        out[str(size)]["index_mb"] = round(sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) / 2**20)
        out[str(size)].update(run_script(NOOP_SCRIPT, str(grown), str(target)))
        shutil.rmtree(target)
        shutil.rmtree(grown)
    shutil.rmtree(work, ignore_errors=True)
    return out


PEAK_LAUNCHER = r"""
import json, os, re, sys, threading, time
# Runs `python ARGS...` as a child of this small process and reports that child's own peak RSS
# (os.wait4). A child started straight from the benchmark would inherit the benchmark's high-water
# mark through fork/vfork + exec, and RUSAGE_CHILDREN is the maximum over every child ever reaped.
# VmRSS/VmHWM are sampled to place the peak in a phase: rich's progress bar is forced on, and its
# "embedding" and "saving" lines tell when embedding and the FAISS/BM25 rebuild start and end.
started = time.perf_counter()
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(write_end, 2)
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
os.close(write_end)
samples, marks, tail = [], {}, [""]

def poll():
    while True:
        try:
            with open(f"/proc/{pid}/status") as f:
                vm = {line[:5]: int(line.split()[1]) // 1024 for line in f if line.startswith(("VmRSS", "VmHWM"))}
        except OSError:
            return
        if "VmRSS" not in vm:  # exited, not yet reaped
            return
        samples.append((round(time.perf_counter() - started, 2), vm["VmRSS"], vm["VmHWM"]))
        time.sleep(0.1)

def read_stderr():
    text = ""
    with os.fdopen(read_end, "r", errors="replace") as f:
        while chunk := f.read(256):
            now = round(time.perf_counter() - started, 2)
            text = (text + re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", chunk))[-4000:]
            for name, pattern in (("embedding", "embedding"), ("saving", "saving"), ("saved", r"saving[^\n]*1/1")):
                if name not in marks and re.search(pattern, text):
                    marks[name] = now
    tail[0] = text[-1500:]

threading.Thread(target=poll, daemon=True).start()
reader = threading.Thread(target=read_stderr)
reader.start()
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
reader.join()
print(json.dumps({"rc": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 1),
    "peak_rss_mb": round(usage.ru_maxrss / 1024), "marks": marks, "samples": samples, "stderr_tail": tail[0]}))
"""

STUB_VECTORS_SCRIPT = """
import sys
import numpy as np
from qa import cli
from qa.embed import ModelEmbedder

class StubVectors(ModelEmbedder):
    # The real model embeds every REAL_EVERY-th batch, the first included, so its working memory comes
    # and goes as in a real run, in the state a large build is in; the other batches get random unit
    # vectors instead of hours of inference.
    calls = 0

    def encode_with_tokens(self, texts, progress=None, token_rows=frozenset()):
        # the indexer's call: sentence word pieces only from the real batches
        StubVectors.calls += 1
        if StubVectors.calls % REAL_EVERY == 1:
            return super().encode_with_tokens(texts, progress, token_rows)
        v = np.random.default_rng(len(texts)).standard_normal((len(texts), self.dim)).astype(np.float32)
        if progress:
            progress(len(texts), len(texts))
        return v / np.linalg.norm(v, axis=1, keepdims=True), {}

    def encode(self, texts, progress=None):
        return self.encode_with_tokens(texts, progress)[0]

REAL_EVERY = int(sys.argv[1])
from qa.service import Library
cli.main(sys.argv[2:], library=lambda settings: Library(settings, StubVectors(settings.model), cli.warn))
"""
STUB_REAL_EVERY = 10  # ~10 % of a 100k-chunk build's texts (37k) embedded for real: ~10 min here


def measure_index_process(*args: str) -> dict:
    """Peak RSS and wall time of one index process (`python ARGS`, e.g. `-m qa index --json ...`),
    measured by PEAK_LAUNCHER, with the process's peak before and through the FAISS/BM25 rebuild."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_LAUNCHER, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "100"},
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        raise SystemExit(done.stderr)
    run = json.loads(lines[-1])
    if run["rc"]:
        raise SystemExit(f"python {' '.join(args)[:200]} failed ({run['rc']}):\n{run['stderr_tail']}")
    report = json.loads(lines[-2]) if len(lines) > 1 else {}
    samples, marks = run["samples"], run["marks"]

    def last_before(t: float) -> list:  # [seconds, VmRSS MB, VmHWM MB] of the last sample at or before t
        return [s for s in samples if s[0] <= t][-1] if samples and samples[0][0] <= t else [t, None, None]

    out = {
        "wall_s": run["wall_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "chunks_embedded": report.get("chunks_embedded"),
        "sentences_embedded": report.get("sentences_embedded"),
        "articles_added": report.get("added"),
    }
    if "saving" in marks:  # scan, model load, embedding and commits
        _, rss, hwm = last_before(marks["saving"])
        out |= {"peak_before_faiss_bm25_mb": hwm, "rss_when_embedding_done_mb": rss, "faiss_bm25_at_s": marks["saving"]}
        if hwm is not None:  # when that peak was first reached: early and flat after, or still climbing?
            out["peak_before_faiss_bm25_reached_at_s"] = next(s[0] for s in samples if s[2] >= hwm)
    if "saved" in marks:
        out |= {"peak_through_faiss_bm25_mb": last_before(marks["saved"])[2], "faiss_bm25_done_at_s": marks["saved"]}
    step = max(1, len(samples) // 40)
    out["rss_timeline_s_mb"] = samples[::step]  # [seconds, VmRSS, VmHWM so far]
    return out


def bench_peak(sizes: list[int], add: int, target: int) -> dict:
    """Peak memory of real `qa index` processes: full builds of SciFact at `sizes` articles (does the
    embedding phase grow with the corpus?), `add` new SciFact articles into a `target`-chunk index
    grown from the largest build (the peak at scale, measured), and a from-scratch build of that
    corpus that embeds one batch in STUB_REAL_EVERY for real and stubs the others (embedding all of
    it would take many hours here)."""
    from qa.store import Catalog

    work = Path(tempfile.mkdtemp(prefix="qa-bench-peak-"))
    qa_index = ("-m", "qa", "index", "--json", "--corpus")
    out: dict = {"full_build": {}}
    docs = write_corpus(work / "scifact", max(sizes) + add)  # the last `add` are the new articles below
    if len(docs) < max(sizes) + add:
        raise SystemExit(f"SciFact has {len(docs)} articles: the largest size plus --peak-add must fit")
    for n in sorted(sizes):
        corpus = work / f"corpus-{n}"
        corpus.mkdir()
        for doc in docs[:n]:
            shutil.copy(work / "scifact" / f"{doc['_id']}.json", corpus)
        run = measure_index_process(*qa_index, str(corpus), "--index", str(work / f"index-{n}"))
        catalog = Catalog(work / f"index-{n}")
        run["articles"], run["chunks"] = n, catalog.counts()[1]
        catalog.close()
        out["full_build"][str(n)] = run
        print(f"full build, {n} articles:", {k: v for k, v in run.items() if k != "rss_timeline_s_mb"}, flush=True)

    # incremental at scale: the largest build grown to `target` chunks, then `add` new real articles
    largest = max(sizes)
    index, corpus = work / "index-big", work / "corpus-big"
    shutil.copytree(work / f"corpus-{largest}", corpus)
    synthetic_index(work / f"index-{largest}", index, target, corpus=corpus)
    (index / "query-encoder.onnx").unlink(missing_ok=True)  # export it again: everything `qa index` can do
    for doc in docs[largest:]:
        (corpus / f"new-{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    files = sum(1 for _ in corpus.iterdir())
    run = measure_index_process(*qa_index, str(corpus), "--index", str(index))
    catalog = Catalog(index)
    run["files"], run["chunks"] = files, catalog.counts()[1]
    catalog.close()
    out["incremental"] = run
    brief = {k: v for k, v in run.items() if k != "rss_timeline_s_mb"}
    print(f"add {add} articles at {target} chunks:", brief, flush=True)

    # from scratch at scale: the same corpus into an empty index, one batch in STUB_REAL_EVERY embedded
    scratch = ("index", "--json", "--corpus", str(corpus), "--index", str(work / "index-scratch"))
    run = measure_index_process("-c", STUB_VECTORS_SCRIPT, str(STUB_REAL_EVERY), *scratch)
    run["batches_embedded_for_real"] = f"1 in {STUB_REAL_EVERY}"
    catalog = Catalog(work / "index-scratch")
    run["files"], run["chunks"] = files, catalog.counts()[1]
    catalog.close()
    out["scratch_stub_vectors"] = run
    print("from scratch, partly stub vectors:", {k: v for k, v in run.items() if k != "rss_timeline_s_mb"}, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return out


def print_peak_table(peak: dict) -> None:
    rows = [(f"full build, {n} articles", r) for n, r in peak["full_build"].items()]
    rows += [("add articles to big index", peak["incremental"])]
    rows += [(f"from scratch, 1/{STUB_REAL_EVERY} real", peak["scratch_stub_vectors"])]
    head = f"{'chunks':>7} {'embedded':>8} {'wall s':>7} {'peak MB':>7} {'<FAISS':>6} {'kept':>5} {'FAISS+BM25':>10}"
    print(f"{'index process':27} {head}")
    for name, r in rows:
        embedded = (r["chunks_embedded"] or 0) + (r["sentences_embedded"] or 0)
        print(
            f"{name:27} {r['chunks']:>7} {embedded:>8} {r['wall_s']:>7} {r['peak_rss_mb']:>7} "
            f"{r.get('peak_before_faiss_bm25_mb', '-'):>6} {r.get('rss_when_embedding_done_mb', '-'):>5} "
            f"{r.get('peak_through_faiss_bm25_mb', '-'):>10}"
        )
    print("peak MB: the whole process (os.wait4); <FAISS: its peak before the FAISS/BM25 rebuild (scan, model,")
    print("embedding, commits); kept: resident when embedding is done; FAISS+BM25: peak through that rebuild")


def bench_ivf(source: Path, total: int) -> dict:
    """IVF against exact search at `total` vectors: real chunk vectors from an index, repeated with
    noise (cosine ~0.97 to their source) to reach the size; questions are the SciFact claims."""
    import faiss

    from qa.embed import ModelEmbedder
    from qa.ivf import build_ivf, exact_top
    from qa.store import Catalog

    catalog = Catalog(source)
    _, base = catalog.all_chunk_vectors()
    catalog.close()
    rng = np.random.default_rng(0)
    reps = -(-total // len(base))
    vectors = np.vstack([base + rng.normal(0, 0.01, base.shape).astype(np.float32) for _ in range(reps)])[:total]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(len(vectors), dtype=np.int64)
    claims = [json.loads(line)["text"] for line in open(SCIFACT / "queries.jsonl")][:200]
    queries = ModelEmbedder("all-MiniLM-L6-v2").encode_queries(claims)
    started = time.perf_counter()
    index, choice = build_ivf(ids, vectors, vectors.shape[1])
    build_s = time.perf_counter() - started
    truth = exact_top(vectors, queries, 10)
    _, found = index.search(queries, 10)
    real_recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)

    def p50_ms(ix) -> float:
        times = []
        for q in queries:
            t = time.perf_counter()
            ix.search(q.reshape(1, -1), 10)
            times.append((time.perf_counter() - t) * 1000)
        return round(statistics.median(times), 2)

    return {
        "vectors": len(vectors),
        "nlist": choice.nlist,
        "nprobe": choice.nprobe,
        "recall_at_10_probe_queries": round(choice.recall_at_10, 3),
        "recall_at_10_scifact_claims": round(real_recall, 3),
        "build_s": round(build_s, 1),
        "search_p50_ms_ivf": p50_ms(index),
        "search_p50_ms_exact": p50_ms(flat),
    }


HEAVY_MODULES = ("torch", "transformers", "sentence_transformers", "numba", "scipy", "sklearn", "ranx", "bm25s",
                 "faiss", "onnxruntime", "tokenizers", "textual", "numpy", "platformdirs")  # fmt: skip


def cold_modules(env: dict, question: str) -> dict:
    """Which heavy modules a cold `qa ask --no-sync` loads, with each one's own import time (`-X importtime`,
    cumulative microseconds of its top-level import)."""
    code = (
        "import sys\nfrom qa.cli import main\ntry:\n    main(['ask', '--no-sync', sys.argv[1]])\n"
        "except SystemExit:\n    pass\n"
        "print('MODULES', *sorted({m.split('.')[0] for m in sys.modules}), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, question], capture_output=True, text=True, env=env, cwd=ROOT
    )
    loaded: set[str] = set()
    seconds: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if line.startswith("MODULES "):
            loaded = set(line.split()[1:])
        elif line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if name in HEAVY_MODULES and cumulative.isdigit():
                seconds[name] = round(int(cumulative) / 1e6, 2)
    return {
        "loaded": {m: seconds.get(m, 0.0) for m in HEAVY_MODULES if m in loaded},
        "not_loaded": [m for m in HEAVY_MODULES if m not in loaded],
        "must_not_load_but_did": [m for m in ("torch", "numba", "scipy", "sentence_transformers") if m in loaded],
    }


def bench_cold(runs: int = 5) -> dict:
    """Cold `qa ask` (median of `runs` new processes) and `qa --help`, on the bundled seeds, plus the TUI."""
    qa = [sys.executable, "-m", "qa"]
    index = Path(tempfile.mkdtemp(prefix="qa-bench-cold-"))
    env = {**os.environ, "QA_INDEX": str(index)}
    subprocess.run([*qa, "index"], capture_output=True, env=env, cwd=ROOT, check=True)
    question = "Where is the next forum hosted?"

    def timed(args: list[str]) -> dict:
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(args, capture_output=True, env=env, cwd=ROOT, check=True)
            seconds.append(time.perf_counter() - started)
        return {"median_s": round(statistics.median(seconds), 2), "runs_s": [round(s, 2) for s in seconds]}

    out = {
        "help": timed([*qa, "--help"]),
        "ask": timed([*qa, "ask", question]),
        "ask_no_sync": timed([*qa, "ask", "--no-sync", question]),
        "python_only": timed([sys.executable, "-c", "pass"]),  # the floor: interpreter start-up
        "ask_modules": cold_modules(env, question),
    }
    out["tui"] = bench_tui(index)  # same index
    shutil.rmtree(index, ignore_errors=True)
    return out


# --- TUI cold start: the app in a pseudo-terminal, as a terminal would run it --------------------------------------
TUI_SIZE = (100, 30)  # columns, rows
TUI_QUESTION = "Where is the next forum hosted?"
TUI_ANSWER = "Taganrog"
# The framework's floor: a bare Textual app laid out like ours (text, input, status line, footer).
BARE_TUI = """
from textual.app import App
from textual.widgets import Footer, Input, Static


class Bare(App):
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self):
        yield Static("Ask a question")
        yield Input(placeholder="a question, then Enter")
        yield Static("bare status line")
        yield Footer()


Bare().run()
"""
# CSI, OSC, DCS/PM/APC strings, charset designations and two-byte escapes: what is left is the text on screen
ANSI_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[()*+].|[@-Z\\-_=>])"
)


def tui_session(args: list[str], env: dict, paint: str, question: str | None, answer: str, timeout: float = 60) -> dict:
    """One cold start of a Textual app under a pseudo-terminal of TUI_SIZE. Seconds from launch to: the first
    frame (`paint`, text the first frame always holds: escape sequences are stripped, as they split words), the
    footer's keys ("Quit": Textual fills the footer a few frames later; the screen is complete), and, with
    `question` typed then, the answer's text."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", TUI_SIZE[1], TUI_SIZE[0], 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "TMUX") and not k.startswith("TEXTUAL")}
    env["TERM"] = "xterm-256color"
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending, screen, asked_at = "", "", 0
    times: dict[str, float] = {}

    def read(wait: float) -> bool:
        """Read what the app wrote within `wait` s into `screen` (an escape cut off at the end waits for the
        rest); False once the app has closed the terminal."""
        nonlocal pending, screen
        if not select.select([master], [], [], wait)[0]:
            return True
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: every copy of the terminal's other end is closed
            return False
        pending += decode.decode(data)
        cut = pending.rfind("\x1b")
        if cut < 0 or ANSI_ESCAPE.match(pending, cut):
            cut = len(pending)
        screen += ANSI_ESCAPE.sub("", pending[:cut])
        pending = pending[cut:]
        return bool(data)

    try:
        while time.perf_counter() - started < timeout and read(0.05):
            now = time.perf_counter() - started
            if "first_paint_s" not in times and paint in screen:
                times["first_paint_s"] = now
            if "first_paint_s" in times and "footer_s" not in times and "Quit" in screen:
                times["footer_s"] = now
                if question is not None:  # typed once the screen is complete: typed earlier, it slowed the
                    os.write(master, question.encode() + b"\r")  # footer, which the bare app's is not
                    asked_at = len(screen)
            if question is not None and asked_at and answer in screen[asked_at:]:
                times["first_answer_s"] = now
            if "footer_s" in times and (question is None or "first_answer_s" in times):
                break
        os.write(master, b"\x11")  # ctrl+q
        deadline = time.perf_counter() + 5
        while proc.poll() is None and time.perf_counter() < deadline:
            read(0.05)  # keep draining: a full terminal would block the app's last writes
        times["quit_clean"] = proc.poll() == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    return times


def bench_tui(index: Path | None, runs: int = 5) -> dict:
    """`qa --index INDEX` against the bare app, run alternately (the machine's speed drifts): median, min and max of
    first paint, footer drawn and (qa only) first answer, for a question typed once the footer is drawn. Without
    an index, one is built from the bundled seeds first, as `bench_cold` does."""
    work = Path(tempfile.mkdtemp(prefix="qa-bench-tui-"))
    bare = work / "bare_app.py"
    bare.write_text(BARE_TUI)
    if index is None:
        index = work / "index"
        env = {**os.environ, "QA_INDEX": str(index)}
        subprocess.run([sys.executable, "-m", "qa", "index"], capture_output=True, env=env, cwd=ROOT, check=True)
    # Bytecode cached, as for any installed package (with PYTHONDONTWRITEBYTECODE=1 qa's own modules would be
    # compiled at every start); a first session of each, not counted, fills the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(QA_INDEX=str(index), PYTHONPYCACHEPREFIX=str(work / "pycache"))
    ours: list[dict] = []
    floor: list[dict] = []
    for run in range(runs + 1):
        bare_times = tui_session([sys.executable, str(bare)], env, "bare status line", None, "")
        qa_times = tui_session(
            [sys.executable, "-m", "qa", "--index", str(index)], env, "all-MiniLM-L6-v2 · ", TUI_QUESTION, TUI_ANSWER
        )
        if run:
            floor.append(bare_times)
            ours.append(qa_times)
    shutil.rmtree(work, ignore_errors=True)

    def summary(sessions: list[dict], keys: tuple[str, ...]) -> dict:
        out: dict = {}
        for key in keys:
            values = sorted(s[key] for s in sessions if key in s)
            if values:
                out[key] = {
                    "median": round(statistics.median(values), 3),
                    "min": round(values[0], 3),
                    "max": round(values[-1], 3),
                }
            if len(values) < len(sessions):
                out[f"{key}_missing"] = len(sessions) - len(values)  # not seen within the timeout
        out["quit_clean"] = sum(bool(s.get("quit_clean")) for s in sessions)
        return out

    return {
        "runs": runs,
        "terminal": f"{TUI_SIZE[0]}x{TUI_SIZE[1]} pty, xterm-256color",
        "qa": summary(ours, ("first_paint_s", "footer_s", "first_answer_s")),
        "bare_textual": summary(floor, ("first_paint_s", "footer_s")),
    }


def print_tui(tui: dict) -> None:
    print(f"TUI cold start ({tui['terminal']}, {tui['runs']} runs; median [min-max] s):")
    for name in ("qa", "bare_textual"):
        cells = [
            f"{key[:-2].replace('_', ' ')} {v['median']:.3f} [{v['min']:.3f}-{v['max']:.3f}]"
            for key, v in tui[name].items()
            if isinstance(v, dict)
        ]
        print(f"  {name:13} {' · '.join(cells)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what",
        choices=("index", "query", "cold", "tui", "ivf", "peak", "all"),
        help="peak (index-process memory, ~40 min) is not part of all",
    )
    parser.add_argument("--peak-sizes", default="300,1200,4800", help="SciFact articles per full build for peak")
    parser.add_argument("--peak-add", type=int, default=200, help="articles added to the large index for peak")
    parser.add_argument("--peak-chunks", type=int, default=100_000, help="chunks in the large index for peak")
    parser.add_argument("--ivf-size", type=int, default=400_000, help="vectors for the IVF benchmark")
    parser.add_argument(
        "--ivf-source",
        default=str(REPORTS / "scifact.beir-index"),
        help="index whose chunk vectors seed the IVF benchmark (qa eval --beir builds it)",
    )
    parser.add_argument("--limit", type=int, default=1000, help="SciFact articles to index (max 5183)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="chunk counts for query latency")
    parser.add_argument("--tui-runs", type=int, default=5, help="cold starts of the TUI (and of a bare Textual app)")
    args = parser.parse_args()
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count()}
    if args.what in ("cold", "all"):
        result["cold"] = bench_cold()
        print("cold start:", json.dumps({k: v for k, v in result["cold"].items() if k != "tui"}, indent=1), flush=True)
        print_tui(result["cold"]["tui"])
    if args.what == "tui":  # the TUI part of cold alone
        result["tui"] = bench_tui(None, args.tui_runs)
        print_tui(result["tui"])
    if args.what in ("index", "all"):
        result["index"] = bench_index(args.limit)
        print("indexing:", json.dumps(result["index"], indent=1), flush=True)
    if args.what in ("query", "all"):
        result["query"] = bench_query([int(s) for s in args.sizes.split(",")], min(args.limit, 400))
        print("query (warm, question -> answer):", json.dumps(result["query"], indent=1), flush=True)
    if args.what == "ivf":
        result["ivf"] = bench_ivf(Path(args.ivf_source), args.ivf_size)
        print("ivf:", json.dumps(result["ivf"], indent=1), flush=True)
    if args.what == "peak":
        sizes = [int(s) for s in args.peak_sizes.split(",")]
        result["peak"] = bench_peak(sizes, args.peak_add, args.peak_chunks)
        print_peak_table(result["peak"])
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"written {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
