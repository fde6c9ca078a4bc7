"""Measure a small reader built from the bundled model (issue 11), not part of qa.

    python eval/reader_measure.py --index I [--folds 5 --fold 0] [--epochs 3] [--rank 8]

The reader is a cross-encoder: the bundled all-MiniLM-L6-v2 reads the question and one extract together,
LoRA adapters (rank R) on every layer's query, value and two feed-forward matrices and a linear head on the
mean of its last states are trained (258k weights at rank 8, about 1 MB), the model's own weights stay
frozen. Its logit says whether the extract holds a gold answer.

Data: squad2, split by Wikipedia article (an unanswerable question belongs to the article of the answerable
question before it: the file follows the paragraphs). The rules' three best extracts of each training
question are its pairs, labelled by the gold answers (an unanswerable question's are all wrong). On the
test articles' questions it reports, beside the confidence cues the default scorer has (qa.rules.CUES, a
logistic regression fitted on the training articles):
- AUC of the shown extract being right;
- the share of unanswerable questions refused when 10 % of the answerable ones are (issue 11's squad2
  target: at least 35 %);
- best extract right when the reader re-orders the three best by rank + w x its logit.
Reads only ../shared/data/squad2. One training step (32 pairs) takes about 3 s on this 2-core machine.
Results: eval/README.md "A reader trained from the bundled model".
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import evaluate as ev  # noqa: E402
from qa import rules  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "squad2"
TOP = 3  # the rules' best extracts the reader sees of each question
BATCH = 32
REFUSED = 0.10  # issue 11's squad2 bound on the answerable questions refused
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 1e3)  # the reader logit's weight when it re-orders the best three


def collect(index: Path, limit: int = 0) -> list[dict[str, Any]]:
    """Each squad2 question: its article group, the shown extract's cues, and its TOP best extracts."""
    from qa.answer import RERANK
    from qa.config import Settings
    from qa.service import Library

    library = Library(Settings.from_options(DATA / "corpus", index))
    library.refresh()
    retriever = library.retriever()
    rows, group = [], ""
    for q in ev.load_questions(DATA / "questions.jsonl")[: limit or None]:
        if q.article:
            group = q.article.split("#")[-1].rsplit("-", 1)[0]  # "wiki.jsonl#Normans-0" -> "Normans"
        vector = retriever.embed(q.question)
        hits = retriever.search(q.question, k=RERANK, vector=vector, as_of=date.today())
        best = sorted(rules.scored(retriever, q.question, vector, hits, date.today()), key=lambda c: -c.rank)[:TOP]
        if not best:
            continue
        extracts = [(c.text, q.answerable and ev.contains_answer(c.text, q.answers), c.rank) for c in best]
        rows.append({"question": q.question, "answerable": q.answerable, "group": group,
                     "cues": best[0].judged, "extracts": extracts})  # fmt: skip
    return rows


class Reader:
    """The bundled model with LoRA adapters and a head; only the adapters and the head train."""

    def __init__(self, rank: int) -> None:
        import torch
        from torch import nn
        from transformers import AutoModel, AutoTokenizer

        from qa.config import BUNDLED_MODEL, resolve_model_path

        path = resolve_model_path(BUNDLED_MODEL)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path)
        for p in self.model.parameters():
            p.requires_grad = False

        class LoRA(nn.Module):
            def __init__(self, linear: nn.Linear) -> None:
                super().__init__()
                self.linear = linear
                self.A = nn.Parameter(torch.randn(rank, linear.in_features) * 0.01)
                self.B = nn.Parameter(torch.zeros(linear.out_features, rank))

            def forward(self, x: Any) -> Any:
                return self.linear(x) + (x @ self.A.T) @ self.B.T * (16 / rank)

        for layer in self.model.encoder.layer:
            attention = layer.attention.self
            attention.query, attention.value = LoRA(attention.query), LoRA(attention.value)
            layer.intermediate.dense, layer.output.dense = LoRA(layer.intermediate.dense), LoRA(layer.output.dense)
        self.head = nn.Linear(self.model.config.hidden_size, 1)
        self.trained = [p for p in self.model.parameters() if p.requires_grad] + list(self.head.parameters())

    def logits(self, questions: list[str], extracts: list[str]) -> Any:
        batch = self.tokenizer(questions, extracts, truncation="only_second", max_length=128, padding=True,
                               return_tensors="pt")  # fmt: skip
        states = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return self.head((states * mask).sum(1) / mask.sum(1)).squeeze(-1)

    def train(self, pairs: list[tuple[str, str, bool]], epochs: float) -> None:
        import torch

        optimiser = torch.optim.AdamW(self.trained, lr=5e-4, weight_decay=0.01)
        steps = max(int(math.ceil(len(pairs) / BATCH) * epochs), 20)  # the schedule needs a few warm-up steps
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 5e-4, total_steps=steps, pct_start=0.1)
        self.model.train()
        started, step = time.monotonic(), 0
        while step < steps:
            random.shuffle(pairs)
            for start in range(0, len(pairs), BATCH):
                if step >= steps:
                    break
                batch = pairs[start : start + BATCH]
                labels = torch.tensor([float(right) for _, _, right in batch])
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    self.logits([q for q, _, _ in batch], [e for _, e, _ in batch]), labels
                )
                optimiser.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
                schedule.step()
                step += 1
                if step % 50 == 0:
                    took = time.monotonic() - started
                    print(f"step {step}/{steps}: loss {loss.item():.3f}, {took:.0f} s", flush=True)
        self.model.eval()

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(pairs), 64):
                batch = pairs[start : start + 64]
                out.extend(self.logits([q for q, _ in batch], [e for _, e in batch]).tolist())
        return np.array(out)


def refused_at(score: np.ndarray, answerable: np.ndarray) -> float:
    """Unanswerable questions refused at the score under which REFUSED of the answerable ones fall."""
    return float(np.mean(score[~answerable] < np.quantile(score[answerable], REFUSED)))


def main() -> None:
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True, help="squad2's index folder (made if missing)")
    ap.add_argument("--folds", type=int, default=5, help="articles split into this many parts, in name order")
    ap.add_argument("--fold", type=int, default=0, help="the part tested on; the rest trains")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--rank", type=int, default=8, help="the LoRA adapters' rank")
    ap.add_argument("--limit", type=int, default=0, help="only the first this many questions (a quick check)")
    args = ap.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    rows = collect(Path(args.index), args.limit)
    tested = set(sorted({r["group"] for r in rows})[args.fold :: args.folds])
    train = [r for r in rows if r["group"] not in tested]
    test = [r for r in rows if r["group"] in tested]
    print(f"{len(train)} training questions, {len(test)} test questions ({', '.join(sorted(tested))})", flush=True)

    reader = Reader(args.rank)
    reader.train([(r["question"], text, right) for r in train for text, right, _ in r["extracts"]], args.epochs)
    logits = reader.score([(r["question"], text) for r in test for text, _, _ in r["extracts"]])
    per_question, at = [], 0
    for r in test:
        per_question.append(logits[at : at + len(r["extracts"])])
        at += len(r["extracts"])

    answerable = np.array([r["answerable"] for r in test])
    right = np.array([r["extracts"][0][1] for r in test])
    shown = np.array([s[0] for s in per_question])
    X_train, X_test = np.vstack([r["cues"] for r in train]), np.vstack([r["cues"] for r in test])
    mean, scale = X_train.mean(0), X_train.std(0) + 1e-6
    cue_model = LogisticRegression(C=1.0, max_iter=5000)
    cue_model.fit((X_train - mean) / scale, [r["extracts"][0][1] for r in train])
    cues = cue_model.predict_proba((X_test - mean) / scale)[:, 1]
    for name, score in (("the rules' cues (logistic regression)", cues), ("the reader", shown)):
        print(f"{name}: AUC {roc_auc_score(right, score):.3f}, unanswerable refused at {REFUSED:.0%} answerable "
              f"refused {refused_at(score, answerable):.3f}")  # fmt: skip
    for w in WEIGHTS:
        best = [r["extracts"][int(np.argmax([rank + w * s for (_, _, rank), s in zip(r["extracts"], scores)]))][1]
                for r, scores in zip(test, per_question) if r["answerable"]]  # fmt: skip
        print(f"best extract right, rank + {w:g} x reader: {np.mean(best):.3f}")


if __name__ == "__main__":
    main()
