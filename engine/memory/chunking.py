"""Token-aware chunks with overlap, ending on a paragraph or sentence break when one is near."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"[.!?;:]\s|\n")


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int  # character offsets in the document
    end: int
    tokens: int


def chunk_text(
    text: str,
    offsets: Callable[[str], list[tuple[int, int]]],
    max_tokens: int = 200,
    overlap: int = 40,
) -> list[Chunk]:
    """Split `text` into windows of at most `max_tokens` tokens overlapping by `overlap`.

    A window ends at the last paragraph break (else sentence break) in its second half,
    so chunks read as whole thoughts; the next window starts `overlap` tokens earlier.
    """
    if max_tokens <= 0 or not 0 <= overlap < max_tokens:
        raise ValueError("need max_tokens > 0 and 0 <= overlap < max_tokens")
    spans = offsets(text)
    chunks: list[Chunk] = []
    first = 0
    while first < len(spans):
        last = min(first + max_tokens, len(spans))  # exclusive
        if last < len(spans):
            last = _snap(text, spans, first, last)
        start, end = spans[first][0], spans[last - 1][1]
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(piece, start, end, last - first))
        if last >= len(spans):
            break
        first = max(last - overlap, first + 1)
    return chunks


def _snap(text: str, spans: list[tuple[int, int]], first: int, last: int) -> int:
    """Move `last` back to just after a paragraph (else sentence) break in the window's 2nd half."""
    low = first + (last - first) // 2
    for pattern in (_PARAGRAPH, _SENTENCE):
        for candidate in range(last - 1, low, -1):
            gap = text[spans[candidate - 1][1] : spans[candidate][0] + 1]
            if pattern.search(gap) or (
                pattern is _SENTENCE
                and text[spans[candidate - 1][0] : spans[candidate - 1][1]] in ".!?"
            ):
                return candidate
    return last
