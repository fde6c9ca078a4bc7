"""Fit the token basis of qa.tokens (qa/weights/tokens.json): the top principal directions of the bundled
model's content word pieces, in context, over every sentence of news-quiz's corpus.

    python eval/token_basis.py [--dims 48] [--limit N] [--out FILE]

Unsupervised (no question is read). The dimension was chosen by best extract right on squad2, news-quiz and
the seed sets (eval/README.md "Late interaction"): 48 kept all of the full vectors' gain at 1/8 of the size."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from qa import tokens
from qa.chunk import split_sentences
from qa.config import BUNDLED_MODEL
from qa.embed import ModelEmbedder

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "news-quiz" / "corpus" / "news.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, default=48)
    ap.add_argument("--limit", type=int, default=0, help="only the first N sentences (a quick check)")
    ap.add_argument("--out", type=Path, default=tokens.BASIS)
    args = ap.parse_args()
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines() if line.strip()]
    sentences = sorted({t[a:b] for t in texts for a, b in split_sentences(t)})[: args.limit or None]
    embedder = ModelEmbedder(BUNDLED_MODEL)
    _, states = embedder.encode_with_tokens(sentences, token_rows=set(range(len(sentences))))
    pieces = np.vstack([h[tokens.content(p)] for p, h in states.values()]).astype(np.float64)
    _, singular, vt = np.linalg.svd(pieces - pieces.mean(axis=0), full_matrices=False)
    explained = float((singular[: args.dims] ** 2).sum() / (singular**2).sum())
    out = {
        "model": embedder.name,
        "dims": args.dims,
        "components": tokens.encode_basis(vt[: args.dims]),  # float32, base64
        "explained_variance": round(explained, 4),
        "fit_on": f"shared/data/news-quiz/corpus: {len(sentences)} sentences, {len(pieces)} content pieces",
        "command": "python eval/token_basis.py",
    }
    args.out.write_text(json.dumps(out) + "\n")
    print(f"{args.dims} dims, {explained:.3f} of the variance, {len(pieces)} pieces -> {args.out}")


if __name__ == "__main__":
    main()
