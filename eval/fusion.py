"""Fusion study on a BEIR set: dense, BM25, convex weights, min-max convex and RRF, by nDCG@10.

Runs on an index that `qa eval --beir DIR` built (default eval/reports/NAME.beir-index/). Dense and BM25
lists are computed once per query at the same depth `qa eval --beir` uses; every fusion is then scored
from them, so a sweep of many weights costs seconds, not a re-run each.

    .venv/bin/python eval/fusion.py --beir ../shared/data/scifact
    .venv/bin/python eval/fusion.py --beir ../shared/data/scifact --bm25-params 0.9,0.4 1.2,0.75 --article-bm25
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa import evaluate as ev
from qa import retrieve

Ranked = list[tuple[int, float]]  # (id, score) best first


def to_docs(ranked: Ranked, article_of: Callable[[int], str], depth: int = ev.ARTICLE_DEPTH) -> list[str]:
    """Chunk ids best first -> BEIR doc ids in order of their best chunk (as `qa eval --beir` does)."""
    seen: dict[str, None] = {}
    for cid, _ in ranked:
        seen.setdefault(article_of(cid).split("#", 1)[-1], None)
        if len(seen) == depth:
            break
    return list(seen)


def convex(dense: Ranked, lexical: Ranked, weight: float) -> Ranked:
    """The retriever's own fusion (qa.retrieve.fuse) at a given dense weight."""
    return retrieve.fuse(dense, lexical, "hybrid", dense_weight=weight)


def minmax_convex(dense: Ranked, lexical: Ranked, weight: float) -> Ranked:
    """Both lists min-max normalised to [0, 1]; an id missing from a list gets 0 there."""

    def norm(xs: Ranked) -> dict[int, float]:
        if not xs:
            return {}
        hi, lo = xs[0][1], xs[-1][1]
        return {i: (s - lo) / (hi - lo) if hi > lo else 1.0 for i, s in xs}

    d, b = norm(dense), norm(lexical)
    scored = {i: weight * d.get(i, 0.0) + (1 - weight) * b.get(i, 0.0) for i in set(d) | set(b)}
    return sorted(scored.items(), key=lambda x: -x[1])


def rrf(lists: list[Ranked], k: int = 60) -> Ranked:
    scored: dict[int, float] = {}
    for xs in lists:
        for rank, (i, _) in enumerate(xs, 1):
            scored[i] = scored.get(i, 0.0) + 1.0 / (k + rank)
    return sorted(scored.items(), key=lambda x: -x[1])


def collapse(ranked: Ranked, article_of: Callable[[int], str]) -> Ranked:
    """Chunk list -> article list scored by the article's best chunk (ids become article numbers)."""
    out: dict[int, float] = {}
    for cid, s in ranked:
        a = article_number(article_of(cid))
        if a not in out:
            out[a] = s
    return list(out.items())


_ARTICLES: dict[str, int] = {}
_NAMES: list[str] = []


def article_number(name: str) -> int:
    if name not in _ARTICLES:
        _ARTICLES[name] = len(_NAMES)
        _NAMES.append(name)
    return _ARTICLES[name]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beir", required=True, help="BEIR folder")
    ap.add_argument("--split", default="test")
    ap.add_argument("--index", help="index folder (default eval/reports/NAME.beir-index/)")
    ap.add_argument(
        "--depth",
        type=int,
        default=4 * ev.BEIR_PASSAGES,
        help="candidates per list, as qa eval --beir uses (default %(default)s)",
    )
    ap.add_argument("--weights", default="0.3,0.4,0.5,0.6,0.7,0.8,0.9", help="DENSE_WEIGHT values to try")
    ap.add_argument("--rrf-k", default="10,30,60,100", help="RRF constants to try")
    ap.add_argument(
        "--bm25-params",
        nargs="*",
        default=[],
        metavar="K1,B",
        help="also try BM25 (chunk level) with these k1,b (default bm25s 1.5,0.75)",
    )
    ap.add_argument(
        "--article-bm25",
        action="store_true",
        help="also try BM25 over whole articles (title + text, no chunking), fused at article level",
    )
    ap.add_argument(
        "--first-passage",
        action="store_true",
        help="also score dense search over each article's first passage only (close to the published "
        "setup, which truncates title + text at 256 tokens)",
    )
    ap.add_argument("--json", help="write all results to this file")
    args = ap.parse_args()

    import numpy as np

    from qa.embed import ModelEmbedder
    from qa.lexical import Lexical

    folder = Path(args.beir)
    _, queries_file, qrels_file = ev.beir_files(folder, args.split)
    index = Path(args.index) if args.index else ev.default_beir_index(folder)
    embedder = ModelEmbedder("all-MiniLM-L6-v2")
    r = retrieve.Retriever(index, embedder)
    qrels = ev.read_qrels(qrels_file)
    queries = ev.read_queries(queries_file)
    qids = list(qrels)
    chunk_article = dict(r.catalog.db.execute("SELECT id, article_id FROM chunks"))
    article_of = chunk_article.__getitem__
    t = time.perf_counter()
    vectors = np.vstack([r.embed(queries[q]) for q in qids])  # one by one, as the tool embeds a question
    dense = {q: r.dense(v, args.depth) for q, v in zip(qids, vectors)}
    lexical = {q: r.lexical.search(queries[q], args.depth) for q in qids}
    print(
        f"{len(qids)} queries, dense + BM25 lists at depth {args.depth} in {time.perf_counter() - t:.1f} s",
        file=sys.stderr,
    )

    results: dict[str, dict[str, float]] = {}

    def score(name: str, runs: dict[str, Ranked], already_docs: bool = False) -> None:
        run = {
            q: (
                [_NAMES[a].split("#", 1)[-1] for a, _ in xs[: ev.ARTICLE_DEPTH]]
                if already_docs
                else to_docs(xs, article_of)
            )
            for q, xs in runs.items()
        }
        means, _ = ev.ranking_metrics(qrels, run, ev.BEIR_METRICS)
        results[name] = {m: round(v, 4) for m, v in means.items()}
        print(f"{name:44} " + "  ".join(f"{m} {v:.4f}" for m, v in results[name].items()), flush=True)

    score("dense", dense)
    score("bm25 (bm25s k1=1.5 b=0.75, chunks)", lexical)
    for w in [float(x) for x in args.weights.split(",")]:
        score(f"convex DENSE_WEIGHT={w}", {q: convex(dense[q], lexical[q], w) for q in qids})
    for w in [float(x) for x in args.weights.split(",")]:
        score(f"min-max convex w={w}", {q: minmax_convex(dense[q], lexical[q], w) for q in qids})
    for k in [int(x) for x in args.rrf_k.split(",")]:
        score(f"rrf k={k}", {q: rrf([dense[q], lexical[q]], k) for q in qids})

    lexical_sets = {}
    if args.bm25_params:

        ids, texts = r.catalog.all_chunk_texts()
        for spec in args.bm25_params:
            k1, b = (float(x) for x in spec.split(","))
            lex = Lexical.build(ids, texts, k1=k1, b=b)
            lexical_sets[f"k1={k1} b={b}"] = {q: lex.search(queries[q], args.depth) for q in qids}
    for name, lists in lexical_sets.items():
        score(f"bm25 {name} (chunks)", lists)
        for w in (0.4, 0.5, 0.6, 0.7):
            score(f"convex w={w}, bm25 {name}", {q: convex(dense[q], lists[q], w) for q in qids})
        score(f"rrf k=60, bm25 {name}", {q: rrf([dense[q], lists[q]], 60) for q in qids})

    if args.article_bm25:
        rows = r.catalog.db.execute("SELECT id, text FROM articles WHERE duplicate_of IS NULL ORDER BY id").fetchall()
        numbers = [article_number(a) for a, _ in rows]
        for k1, b in ((1.5, 0.75), (0.9, 0.4), (1.2, 0.75)):
            lex = Lexical.build(numbers, [t for _, t in rows], k1=k1, b=b)  # "chunk ids" here are article numbers
            art_lex = {q: lex.search(queries[q], ev.ARTICLE_DEPTH * 3) for q in qids}
            art_dense = {q: collapse(dense[q], article_of) for q in qids}
            score(f"bm25 k1={k1} b={b} (whole articles)", art_lex, already_docs=True)
            for w in (0.4, 0.5, 0.6, 0.7):
                score(
                    f"convex w={w}, article bm25 k1={k1} b={b}",
                    {q: convex(art_dense[q], art_lex[q], w) for q in qids},
                    already_docs=True,
                )
            score(
                f"rrf k=60, article bm25 k1={k1} b={b}",
                {q: rrf([art_dense[q], art_lex[q]], 60) for q in qids},
                already_docs=True,
            )

    if args.first_passage:
        rows = r.catalog.db.execute("SELECT article_id, vector FROM chunks WHERE seq = 0 ORDER BY id").fetchall()
        numbers = np.array([article_number(a) for a, _ in rows], dtype=np.int64)
        matrix = np.vstack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
        top = np.argsort(-(vectors @ matrix.T), axis=1)[:, : ev.ARTICLE_DEPTH]
        score(
            "dense, first passage of each article only",
            {q: [(int(numbers[j]), 0.0) for j in top[n]] for n, q in enumerate(qids)},
            already_docs=True,
        )

    best = max(results, key=lambda n: results[n]["ndcg@10"])
    print(f"\nbest by nDCG@10: {best} {results[best]['ndcg@10']:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"index": str(index), "depth": args.depth, "results": results}, indent=1))


if __name__ == "__main__":
    main()
