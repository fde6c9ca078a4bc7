"""Measure qa.stories: Jaccard of copies vs different stories, grouping precision/recall, signature cost.

python eval/stories_measure.py sample     # eval/stories_sample.jsonl: shingle sizes, thresholds, groups
python eval/stories_measure.py cost FILE [BUILD_SECONDS]  # signature + grouping time (SciFact: 600 s build)
python eval/stories_measure.py index-cost [BEIR_FOLDER] [PAIRS]  # full `qa index` with vs without grouping
python eval/stories_measure.py index-share [BEIR_FOLDER] [ARTICLES]  # grouping's share of one `qa index` build
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qa import stories

HERE = Path(__file__).resolve().parent
SCIFACT = HERE.parent.parent / "shared" / "data" / "scifact"


def load(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.open() if line.strip()]


def sample() -> None:
    items = load(HERE / "stories_sample.jsonl")
    pairs = list(itertools.combinations(range(len(items)), 2))
    same = [items[i]["story"] == items[j]["story"] for i, j in pairs]
    topic = [items[i]["topic"] == items[j]["topic"] for i, j in pairs]
    print(
        f"{len(items)} articles, {len({i['story'] for i in items})} stories, {sum(same)} copy pairs, "
        f"{sum(t and not s for s, t in zip(same, topic))} same-topic different-story pairs"
    )
    print("exact Jaccard of shingle sets: lowest between copies, highest between different stories (same topic)")
    for k in (2, 3, 4, 5, 6):
        sets = [stories.shingles(it["text"], k) for it in items]
        jac = [len(sets[i] & sets[j]) / len(sets[i] | sets[j]) for i, j in pairs]
        low = min((j, p) for j, p, s in zip(jac, pairs, same) if s)
        high = max((j, p) for j, p, s in zip(jac, pairs, same) if not s)
        print(
            f"  k={k}: copies >= {low[0]:.3f} ({items[low[1][0]]['id']}~{items[low[1][1]]['id']}), "
            f"different <= {high[0]:.3f} ({items[high[1][0]]['id']}~{items[high[1][1]]['id']}), "
            f"gap {low[0] - high[0]:.3f}"
        )
    print("exact containment (share of the smaller article's shingles found in the other)")
    for k in (3, 4, 5):
        sets = [stories.shingles(it["text"], k) for it in items]
        con = [len(sets[i] & sets[j]) / min(len(sets[i]), len(sets[j])) for i, j in pairs]
        low = min((c, p) for c, p, s in zip(con, pairs, same) if s)
        high = max((c, p) for c, p, s in zip(con, pairs, same) if not s)
        print(
            f"  k={k}: copies >= {low[0]:.3f} ({items[low[1][0]]['id']}~{items[low[1][1]]['id']}), "
            f"different <= {high[0]:.3f} ({items[high[1][0]]['id']}~{items[high[1][1]]['id']})"
        )
    # the estimate's spread: a pair lands on the wrong side of the rule in how many of 200 seeds?
    k = stories.SHINGLE
    sets = [stories.shingles(it["text"], k) for it in items]
    from datasketch import MinHash

    wrong_merge = wrong_split = 0
    trials = 200
    for seed in range(trials):
        sigs = []
        for st in sets:
            m = MinHash(num_perm=stories.NUM_PERM, seed=1000 + seed, scheme="affine32")
            m.update_batch(st)
            sigs.append(np.concatenate([[len(st)], m.hashvalues]).astype("<u4").tobytes())
        for (i, j), s in zip(pairs, same):
            copy = stories.is_copy(sigs[i], sigs[j])
            wrong_merge += copy and not s
            # a copy pair must link to its original (the first of its story) directly
            first = next(n for n, it in enumerate(items) if it["story"] == items[i]["story"])
            wrong_split += s and i == first and not copy
    originals = sum(
        s and i == next(n for n, it in enumerate(items) if it["story"] == items[i]["story"])
        for (i, _), s in zip(pairs, same)
    )
    print(
        f"rule over {trials} random seeds (k={k}, perm={stories.NUM_PERM}, containment >= "
        f"{stories.MIN_CONTAINMENT}, Jaccard >= {stories.MIN_JACCARD}): different-story pairs called copies "
        f"{wrong_merge}/{trials * (len(pairs) - sum(same))}, copy-original pairs missed "
        f"{wrong_split}/{trials * originals}"
    )
    # the real thing: StoryIndex over the sample, incremental, against the labels
    index = stories.StoryIndex()
    for it in items:
        index.add(it["id"], stories.signature(it["text"]))
    got = {it["id"]: index.story_of(it["id"]) for it in items}
    tp = sum(s and got[items[i]["id"]] == got[items[j]["id"]] for (i, j), s in zip(pairs, same))
    fp = sum((not s) and got[items[i]["id"]] == got[items[j]["id"]] for (i, j), s in zip(pairs, same))
    print(
        f"StoryIndex k={stories.SHINGLE} perm={stories.NUM_PERM}: pair precision "
        f"{tp / max(tp + fp, 1):.3f} ({fp} different-story pairs merged), recall {tp / sum(same):.3f} "
        f"({tp}/{sum(same)} copy pairs grouped); {index.groups()} groups"
    )
    for story in sorted({*got.values()}):
        print(f"    {story}: {index.members(story)}")
    for (i, j), s in zip(pairs, same):
        est, con = stories.similarity(stories.signature(items[i]["text"]), stories.signature(items[j]["text"]))
        if s or est >= 0.1:
            print(
                f"    {items[i]['id']}~{items[j]['id']} {'copy' if s else 'diff'}: "
                f"Jaccard {est:.2f} containment {con:.2f} (estimated)"
            )


def cost(path: Path) -> None:
    rows = load(path)
    texts = [f"{r.get('title') or ''}\n{r.get('text') or r.get('body') or ''}".strip() for r in rows]
    stories.signature("warm up")  # the datasketch import (about 1 s, scipy) is paid once per run
    t0 = time.perf_counter()
    sigs = [stories.signature(t) for t in texts]
    t1 = time.perf_counter()
    index = stories.StoryIndex()
    for i, s in enumerate(sigs):
        index.add(str(i), s)
    t2 = time.perf_counter()
    rebuilt = stories.StoryIndex.from_rows((str(i), s) for i, s in enumerate(sigs))
    t3 = time.perf_counter()
    index.add("one more", stories.signature(texts[0] + " A new closing sentence."))
    t4 = time.perf_counter()
    n = len(texts)
    words = sum(len(t.split()) for t in texts) / n
    print(f"{n} articles ({words:.0f} words on average)")
    print(f"  signature: {t1 - t0:.2f} s, {1000 * (t1 - t0) / n:.3f} ms an article")
    sizes = [len(index.members(s)) for s in {index.story_of(str(i)) for i in range(n)}]
    grouped = sum(size for size in sizes if size > 1)
    print(
        f"  add one by one: {t2 - t1:.2f} s, {1000 * (t2 - t1) / n:.3f} ms an article; {index.groups()} groups "
        f"({grouped} articles in them)"
    )
    print(f"  from_rows (load at the start of an incremental run): {t3 - t2:.2f} s; groups {rebuilt.groups()}")
    print(f"  add one article to the loaded index: {1000 * (t4 - t3):.2f} ms")
    build = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0  # today's full SciFact build: about 10 min
    share = ((t1 - t0) + (t2 - t1)) / build
    print(f"  signatures + grouping as a share of a {build:.0f} s build: {100 * share:.2f} %")
    big = [sorted(index.members(s)) for s in {index.story_of(str(i)) for i in range(n)} if len(index.members(s)) > 1]
    for group in big[:10]:
        print("   group:", [texts[int(i)][:70] for i in group if i.isdigit()])


def beir_scratch(folder: Path, prefix: str, keep: int | None) -> tuple[Path, Path, list[str]]:
    """A fresh work folder whose corpus/corpus.jsonl holds the first `keep` records (all: None) of a BEIR
    corpus: (work folder, corpus folder, every record's line)."""
    lines = [line for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    work = Path(tempfile.mkdtemp(prefix=prefix))
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "corpus.jsonl").write_text("\n".join(lines[:keep]) + "\n", encoding="utf-8")
    return work, corpus, lines


def index_cost(folder: Path, pairs: int) -> None:
    """Full `qa index` builds of a BEIR corpus (the real model, fp32) with story grouping and without, in
    fresh index folders, interleaved with the order swapped every pair (with/without, without/with, ...) so
    a drift of the machine's speed falls on both sides; then one new abstract added to each built index.

    The corpus is BEIR's corpus.jsonl read as `qa eval` reads it (one article per record: title + text, the
    `_id` as its id, qa.evaluate.index_beir), less its last record, which is the article added afterwards
    as a file of its own. The builds index sentence vectors as `qa index` does (index_beir skips them)."""
    from qa import config
    from qa.embed import ModelEmbedder
    from qa.indexformat import CATALOG
    from qa.store import Catalog
    from qa.sync import Indexer

    class Ungrouped(Indexer):
        """The Indexer with story grouping off: no signatures computed, no story index loaded or saved
        (with `_stories` left None, `_step` and `_delete` skip the stories too)."""

        def _load_stories(self, catalog: Catalog) -> bool:
            return False

        def _signed(self, article_id: str, text: str) -> bytes | None:
            return None

    work, corpus, lines = beir_scratch(folder, "qa-index-cost-", -1)  # the last record is added later
    added = corpus / "added.jsonl"

    embedder = ModelEmbedder(config.default_model())  # fp32; shared, and loaded before the timings
    warning = embedder.prepare()
    print(f"{len(lines) - 1} articles + 1 added; model {embedder.name} fp32{f' ({warning})' if warning else ''}")
    print(f"work folder {work}; {pairs} pairs, each build in a fresh index folder", flush=True)

    def build(kind: type[Indexer], name: str) -> dict[str, float]:
        index = work / name
        started, cpu = time.perf_counter(), time.process_time()  # CPU of all threads: less hit by other work
        report = kind(corpus, index, embedder).run()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        added.write_text(lines[-1] + "\n", encoding="utf-8")
        started = time.perf_counter()
        one = kind(corpus, index, embedder).run()
        add_seconds = time.perf_counter() - started
        added.unlink()
        db = sqlite3.connect(index / CATALOG)
        signed = db.execute("SELECT count(minhash) FROM articles").fetchone()[0]
        db.close()
        shutil.rmtree(index)
        label = "with" if kind is Indexer else "without"
        print(
            f"  {name} ({label} grouping): build {seconds:.1f} s ({cpu:.1f} CPU s) [{report.summary()}; "
            f"{signed} signed]; "
            f"add one article {add_seconds:.2f} s ({100 * add_seconds / seconds:.2f} % of the build, "
            f"{one.chunks_embedded} chunks embedded)",
            flush=True,
        )
        return {"build": seconds, "cpu": cpu, "add": add_seconds}

    runs: list[tuple[dict[str, float], dict[str, float]]] = []
    for n in range(pairs):
        if n % 2 == 0:
            grouped, ungrouped = build(Indexer, f"with-{n}"), build(Ungrouped, f"without-{n}")
        else:
            ungrouped, grouped = build(Ungrouped, f"without-{n}"), build(Indexer, f"with-{n}")
        runs.append((grouped, ungrouped))
        print(
            f"pair {n + 1}: with / without = {grouped['build'] / ungrouped['build']:.3f} "
            f"(CPU {grouped['cpu'] / ungrouped['cpu']:.3f})",
            flush=True,
        )
    shutil.rmtree(work, ignore_errors=True)
    ratios = [g["build"] / u["build"] for g, u in runs]
    cpu_ratios = [g["cpu"] / u["cpu"] for g, u in runs]
    shares = [g["add"] / g["build"] for g, _ in runs]
    grouped_s = [g["build"] for g, _ in runs]
    ungrouped_s = [u["build"] for _, u in runs]
    print(f"with grouping:    {', '.join(f'{s:.1f}' for s in grouped_s)} s")
    print(f"without grouping: {', '.join(f'{s:.1f}' for s in ungrouped_s)} s")
    print(
        f"with / without per pair: {', '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f} "
        f"(target <= 1.05); CPU seconds {', '.join(f'{r:.3f}' for r in cpu_ratios)}, "
        f"median {statistics.median(cpu_ratios):.3f}"
    )
    add_s = [g["add"] for g, _ in runs]
    print(
        f"add one article (with grouping): {', '.join(f'{s:.2f}' for s in add_s)} s; share of the build "
        f"{', '.join(f'{100 * s:.2f}' for s in shares)} %, median {100 * statistics.median(shares):.2f} % "
        "(target < 5 %)"
    )


def index_share(folder: Path, limit: int | None) -> None:
    """One full `qa index` build of a BEIR corpus (the real model, fp32) with the grouping's own work timed
    inside it: signatures, LSH adds, loading the story index and writing changed story ids. Both the
    grouping and the build run in the same minutes, so their ratio holds when the machine's speed swings
    (the paired builds of index-cost differ by the swing itself). The grouping runs on the indexing thread:
    its CPU seconds are that thread's, set against the whole process's (the embedding's threads too)."""
    from qa import config
    from qa.embed import ModelEmbedder
    from qa.store import Catalog
    from qa.sync import Indexer

    spent = {"wall": 0.0, "cpu": 0.0}

    def timed(fn):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent["wall"] += time.perf_counter() - wall
                spent["cpu"] += time.thread_time() - cpu

        return run

    class Timed(Indexer):
        """The Indexer with its story-group steps timed; `_step` writes the changed story ids after the
        batch's other rows, so that write is timed through StoryIndex.take_changes and Catalog.set_stories."""

        _load_stories = timed(Indexer._load_stories)
        _signed = timed(Indexer._signed)

    original_set, original_take = Catalog.set_stories, stories.StoryIndex.take_changes
    Catalog.set_stories = timed(original_set)  # type: ignore[method-assign]
    stories.StoryIndex.take_changes = timed(original_take)  # type: ignore[method-assign]
    work, corpus, lines = beir_scratch(folder, "qa-index-share-", limit)
    lines = lines[:limit]
    embedder = ModelEmbedder(config.default_model())
    embedder.prepare()
    try:
        wall, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
        report = Timed(corpus, work / "index", embedder).run()
        wall, cpu, thread = time.perf_counter() - wall, time.process_time() - cpu, time.thread_time() - thread
    finally:
        Catalog.set_stories, stories.StoryIndex.take_changes = original_set, original_take  # type: ignore[method-assign]
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(lines)} articles: {report.summary()}")
    print(
        f"build {wall:.1f} s wall, {cpu:.1f} CPU s (all threads), {thread:.1f} CPU s on the indexing thread; "
        f"grouping {spent['wall']:.2f} s wall, {spent['cpu']:.2f} CPU s: "
        f"{100 * spent['wall'] / wall:.2f} % of the build's wall time, {100 * spent['cpu'] / cpu:.2f} % of its CPU "
        "(target: <= 5 %)"
    )


def scale(n: int) -> None:
    import resource

    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**32 - 1, size=(n, stories.NUM_PERM), dtype=np.uint32)
    for c in rng.choice(n, n // 20, replace=False):  # a copy of the next row with 20 % of its values changed
        base[c] = base[(c + 1) % n]
        change = rng.random(stories.NUM_PERM) < 0.2
        base[c][change] = rng.integers(0, 2**32 - 1, change.sum(), dtype=np.uint32)
    full = np.hstack([np.full((n, 1), 200, dtype=np.uint32), base]).astype("<u4")
    sigs = [full[i].tobytes() for i in range(n)]
    ids = [f"a{i:07d}" for i in range(n)]
    del base, full

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    start = rss()
    t = time.perf_counter()
    index = stories.StoryIndex.from_rows(zip(ids, sigs), verify=True)
    print(
        f"from_rows(verify=True), {n}: {time.perf_counter() - t:.2f} s, {index.groups()} groups, "
        f"peak RSS +{rss() - start:.0f} MB"
    )
    stored = [(a, s, index.story_of(a)) for a, s in zip(ids, sigs)]
    del index
    t = time.perf_counter()
    index = stories.StoryIndex.from_rows(stored)
    t1 = time.perf_counter()
    index.add("new", sigs[5])
    print(
        f"from_rows(stored stories): {t1 - t:.2f} s; then add one article: {1000 * (time.perf_counter() - t1):.1f} ms"
    )
    del index, stored
    t = time.perf_counter()
    index = stories.StoryIndex()
    for i in range(n):
        index.add(ids[i], sigs[i])
        if i % 512 == 511:
            index.take_changes()
    took = time.perf_counter() - t
    print(
        f"add {n} one by one: {took:.1f} s ({1000 * took / n:.2f} ms each), {index.groups()} groups, "
        f"peak RSS so far +{rss() - start:.0f} MB"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["sample"]:
        sample()
    elif sys.argv[1:2] == ["cost"]:
        cost(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["index-cost"]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        index_cost(Path(sys.argv[2]) if len(sys.argv) > 2 else SCIFACT, int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    elif sys.argv[1:2] == ["index-share"]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        articles = int(sys.argv[3]) if len(sys.argv) > 3 else None
        index_share(Path(sys.argv[2]) if len(sys.argv) > 2 else SCIFACT, articles)
    elif sys.argv[1:2] == ["scale"]:
        scale(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    else:
        sys.exit(__doc__)
