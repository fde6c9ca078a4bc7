"""Sentence-aware, overlapping chunks that fit the model's token limit, with exact character offsets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.digest import text_digest

Span = tuple[int, int]
TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass
class Chunk:
    text: str
    start: int  # article_text[start:end] == text
    end: int
    sentences: list[Span]  # sentence spans inside the chunk, relative to the chunk's start

    @property
    def hash(self) -> str:
        return text_digest(self.text)


def split_sentences(text: str) -> list[Span]:
    """Sentence spans; a line break always ends a sentence (paragraphs never run together)."""
    import blingfire

    spans: list[Span] = []
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            _, offsets = blingfire.text_to_sentences_and_offsets(line)
            for start, end in offsets:
                # blingfire trims; keep spans exact and non-empty
                if line[start:end].strip():
                    spans.append((pos + start, pos + end))
        pos += len(line) + 1
    return spans


def _split_long(text: str, span: Span, tokens: int, max_tokens: int) -> list[tuple[Span, int]]:
    """Cut a sentence longer than the model can read into word-aligned pieces that fit."""
    start, end = span
    words: list[Span] = []
    i = start
    for part in text[start:end].split(" "):
        if part:
            words.append((i, i + len(part)))
        i += len(part) + 1
    pieces = max(2, -(-tokens // max_tokens) + 1)  # a little slack: word pieces are uneven
    per = max(1, -(-len(words) // pieces))
    out = []
    for k in range(0, len(words), per):
        group = words[k : k + per]
        out.append(((group[0][0], group[-1][1]), 0))
    return out


def chunk_text(
    text: str,
    count_tokens: TokenCounter,
    max_tokens: int,
    target_tokens: int,
    overlap: int = 1,
) -> list[Chunk]:
    """Pack whole sentences into chunks of about target_tokens (never above max_tokens), overlapping by
    `overlap` sentences so an answer spanning a boundary is still inside one chunk."""
    spans = split_sentences(text)
    counts = count_tokens([text[a:b] for a, b in spans])
    sized: list[tuple[Span, int]] = []
    for span, n in zip(spans, counts):
        if n <= max_tokens:
            sized.append((span, n))
            continue
        pieces = _split_long(text, span, n, max_tokens)
        while True:  # re-count; split further until every piece fits
            piece_counts = count_tokens([text[a:b] for (a, b), _ in pieces])
            if all(c <= max_tokens for c in piece_counts):
                break
            pieces = [p for (s, _), c in zip(pieces, piece_counts) for p in _split_long(text, s, c, max_tokens)]
        sized.extend((s, c) for (s, _), c in zip(pieces, piece_counts))

    chunks: list[Chunk] = []
    i = 0
    while i < len(sized):
        j, total = i, 0
        while j < len(sized) and (j == i or total + sized[j][1] <= target_tokens):
            total += sized[j][1]
            j += 1
        # token counts of sentences add up: word pieces never cross whitespace
        start, end = sized[i][0][0], sized[j - 1][0][1]
        chunks.append(Chunk(text[start:end], start, end, [(a - start, b - start) for (a, b), _ in sized[i:j]]))
        if j >= len(sized):
            break
        i = max(i + 1, j - overlap)
    return chunks
