"""Retrieval for the agent's "Relevant memory" prompt section.

final = relevance (cosine) + recency_weight * 0.5 ** (age / half_life) + pinned_bonus
over a candidate pool from the store, then the best items in order until `k` items or
the token budget is spent. The returned `Retrieval` event lists every item with the
parts of its score, so a window can show why a memory was used.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.memory.items import Retrieval, ScoredMemory

if TYPE_CHECKING:
    from engine.memory.store import MemoryStore

DEFAULT_KINDS = ("long", "reflection", "short", "document")


def retrieve(
    store: MemoryStore,
    query: str,
    k: int = 5,
    token_budget: int = 512,
    kinds: Sequence[str] | None = DEFAULT_KINDS,
    pool: int | None = None,
    now: float | None = None,
) -> Retrieval:
    settings = store.settings
    hits = store.search(query, k=pool or max(4 * k, 20), kinds=kinds)
    stamp = time.time() if now is None else now
    half_life = settings.recency_half_life_days * 86400.0
    scored = []
    for hit in hits:
        age = max(0.0, stamp - hit.item.created)
        recency = 0.5 ** (age / half_life) if half_life > 0 else 0.0
        bonus = settings.pinned_bonus if hit.item.pinned else 0.0
        final = hit.score + settings.recency_weight * recency + bonus
        scored.append((final, hit, recency, bonus))
    scored.sort(key=lambda row: (-row[0], row[1].item.id))
    chosen: list[ScoredMemory] = []
    used = 0
    for final, hit, recency, bonus in scored:
        if len(chosen) >= k:
            break
        tokens = store.embedder.count_tokens(hit.item.text)
        if used + tokens > token_budget:
            continue  # a shorter item further down may still fit
        used += tokens
        chosen.append(ScoredMemory(hit.item, hit.score, recency, bonus, final, tokens))
    return Retrieval(
        query=query,
        items=tuple(chosen),
        k=k,
        token_budget=token_budget,
        tokens_used=used,
        candidates=len(hits),
        t=time.monotonic(),
    )


def format_section(retrieval: Retrieval) -> str:
    """Plain text for the prompt: one bullet per item, its kind in brackets."""
    return "\n".join(f"- [{m.item.kind}] {m.item.text}" for m in retrieval.items)
