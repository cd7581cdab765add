"""A scripted engine generation: `n` token deltas and the finish event with its stats."""

from __future__ import annotations

from engine.llm.events import GenerationFinished, GenerationStats, TokenDelta


def generation(start: float, n: int, gap: float = 0.01) -> list[object]:
    """`n` tokens `gap` seconds apart from `start` (monotonic clock), then GenerationFinished."""
    events: list[object] = [TokenDelta("x", 1, i, start + i * gap) for i in range(n)]
    stats = GenerationStats(
        "cpu",
        10,
        0,
        n,
        50.0,
        20.0,
        500.0,
        n * gap * 1000,
        1 / gap,
        tuple([gap * 1000] * (n - 1)),
        100.0,
        start,
        start,
        start + n * gap,
    )
    events.append(GenerationFinished("x" * n, (1,) * n, "max_tokens", stats, start + n * gap))
    return events
