"""Measure qa.stories: Jaccard of copies vs different stories, grouping precision/recall, signature cost.

python eval/stories_measure.py sample     # eval/stories_sample.jsonl: shingle sizes, thresholds, groups
python eval/stories_measure.py cost FILE [BUILD_SECONDS]  # signature + grouping time (SciFact: 600 s build)
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from qa import stories

HERE = Path(__file__).resolve().parent


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
    elif sys.argv[1:2] == ["scale"]:
        scale(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    else:
        sys.exit(__doc__)
