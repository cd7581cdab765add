"""Top-k search: the FAISS index when unfiltered, exact from SQLite for narrow filters.

A filter that matches few items (<= `exact_filter_limit`) is answered exactly from the
SQLite vectors (one matrix product); a broad one over-fetches from the index and keeps
what passes the filter, doubling the fetch until k hits or the whole index was seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.memory.filters import Filter
from engine.memory.items import Hit

if TYPE_CHECKING:
    from engine.memory.store import MemoryStore

_BATCH = 900


def search(store: MemoryStore, vector: np.ndarray, k: int, where: Filter) -> list[Hit]:
    store.catch_up()
    if k <= 0 or store.index is None or store.index.live == 0:
        return []
    query = vector.reshape(1, -1).astype(np.float32)
    if where.empty:
        scores, ids = store.index.search(query, k)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    else:
        sql, params = where.sql()
        count = store.conn.execute(f"SELECT COUNT(*) FROM items WHERE {sql}", params).fetchone()[0]
        if count == 0:
            return []
        if count <= store.settings.exact_filter_limit:
            pairs = _exact(store, query[0], k, sql, params)
        else:
            pairs = _filtered(store, query, k, sql, params)
    items = store.fetch([i for i, _ in pairs])
    return [Hit(items[i], s) for i, s in pairs if i in items]


def _exact(
    store: MemoryStore, query: np.ndarray, k: int, sql: str, params: list[object]
) -> list[tuple[int, float]]:
    rows = store.conn.execute(f"SELECT id, vector FROM items WHERE {sql}", params).fetchall()
    ids = np.asarray([r[0] for r in rows], np.int64)
    matrix = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
    scores = matrix @ query
    top = np.argsort(-scores, kind="stable")[:k]
    return [(int(ids[t]), float(scores[t])) for t in top]


def _filtered(
    store: MemoryStore, query: np.ndarray, k: int, sql: str, params: list[object]
) -> list[tuple[int, float]]:
    assert store.index is not None
    fetch = k * 8
    while True:
        scores, ids = store.index.search(query, fetch)
        candidates = [int(i) for i in ids[0] if i >= 0]
        passing: set[int] = set()
        for start in range(0, len(candidates), _BATCH):
            part = candidates[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            passing.update(
                r[0]
                for r in store.conn.execute(
                    f"SELECT id FROM items WHERE id IN ({marks}) AND {sql}", [*part, *params]
                )
            )
        pairs = [
            (int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if int(i) in passing
        ]
        if len(pairs) >= k or fetch >= store.index.live:
            return pairs[:k]
        fetch = min(store.index.live, fetch * 4)
