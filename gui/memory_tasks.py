"""Worker bodies of the memory browser: `fn(state, handle, ...)`, run by `gui.bridge.Worker`.

Each takes the handle's lock for the time it uses the store (see `gui.memory_store`);
long ones pass `state.emit` as progress and `state.cancel` down to the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.memory.filters import Filter
from engine.memory.ingest import IngestResult, ingest
from engine.memory.items import MemoryItem
from engine.memory.store import MemoryStore
from gui.bridge import TaskState
from gui.memory_store import StoreHandle

#: Retrieval's token budget when the browser ranks "as the agent would": no limit.
UNLIMITED_TOKENS = 1 << 30


@dataclass(frozen=True)
class Page:
    """Rows `offset ..` of the listing asked for as `generation` (stale pages are dropped)."""

    generation: int
    offset: int
    items: list[MemoryItem]
    total: int


@dataclass(frozen=True)
class ScoredRow:
    """A search hit with the parts of its score (None where the ranking has no such part)."""

    item: MemoryItem
    score: float
    relevance: float
    recency: float | None = None
    pinned_bonus: float | None = None
    tokens: int | None = None


def count(store: MemoryStore, where: Filter) -> int:
    sql, params = where.sql()
    return int(store.conn.execute(f"SELECT COUNT(*) FROM items WHERE {sql}", params).fetchone()[0])


def open_store(state: TaskState, handle: StoreHandle) -> dict[str, Any]:
    return handle.run(MemoryStore.stats, progress=state.emit)


def load_page(
    state: TaskState, handle: StoreHandle, where: Filter, offset: int, limit: int, generation: int
) -> Page:
    def page(store: MemoryStore) -> Page:
        items = store.items(where, limit=limit, offset=offset)
        return Page(generation, offset, items, count(store, where))

    return handle.run(page)


def search(
    state: TaskState,
    handle: StoreHandle,
    query: str,
    k: int,
    kinds: Sequence[str] | None,
    ranking: str,
) -> list[ScoredRow]:
    """`ranking` "agent": the agent's retrieval score (relevance + recency + pinned bonus);
    "similarity": the cosine of `store.search` alone."""

    def run(store: MemoryStore) -> list[ScoredRow]:
        if ranking == "agent":
            found = store.retrieve(query, k=k, token_budget=UNLIMITED_TOKENS, kinds=kinds)
            return [
                ScoredRow(m.item, m.score, m.relevance, m.recency, m.pinned_bonus, m.tokens)
                for m in found.items
            ]
        return [ScoredRow(h.item, h.score, h.score) for h in store.search(query, k=k, kinds=kinds)]

    return handle.run(run)


def update_text(state: TaskState, handle: StoreHandle, item_id: int, text: str) -> MemoryItem:
    return handle.run(MemoryStore.update_text, item_id, text)


def set_pinned(state: TaskState, handle: StoreHandle, item_id: int, pinned: bool) -> MemoryItem:
    return handle.run(MemoryStore.pin, item_id, pinned)


def delete(state: TaskState, handle: StoreHandle, ids: list[int]) -> list[int]:
    handle.run(MemoryStore.delete, ids)
    return ids


def forget(
    state: TaskState, handle: StoreHandle, seconds: float, kinds: list[str], keep_pinned: bool
) -> int:
    return handle.run(lambda s: s.forget_older_than(seconds, kinds, keep_pinned))


def ingest_paths(state: TaskState, handle: StoreHandle, targets: list[Path]) -> IngestResult:
    return handle.run(
        lambda s: ingest(s, targets, progress=state.emit, cancel=state.cancel),
        progress=state.emit,
    )


def stats(state: TaskState, handle: StoreHandle) -> dict[str, Any]:
    return handle.run(MemoryStore.stats)


def rebuild(state: TaskState, handle: StoreHandle, reembed: bool) -> dict[str, Any]:
    def run(store: MemoryStore) -> dict[str, Any]:
        store.rebuild(reembed=reembed)
        return store.stats()

    return handle.run(run, progress=state.emit)


def close(state: TaskState, handle: StoreHandle) -> None:
    handle.close()


def prepare_default_embedder(state: TaskState) -> str:
    """The engine's embedder preparation (all-MiniLM-L6-v2, int8) with progress and cancel."""
    from engine.models.embed_prepare import prepare_embedder

    return prepare_embedder(progress=state.emit, cancel=state.cancel).manifest.name
