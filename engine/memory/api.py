"""Plain functions the agent's tools wrap (`memory.search`, `memory.save`, `documents.search`).

They take an open MemoryStore and return JSON-ready dicts, so a tool wrapper only adds a
name, a description and a schema. The tool registry (engine/tools) wraps them later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import StoreError

if TYPE_CHECKING:
    from engine.memory.store import MemoryStore

MEMORY_KINDS = ("long", "reflection", "short")
SAVABLE_KINDS = ("long", "reflection")


def memory_search(
    store: MemoryStore, query: str, k: int = 5, kinds: Sequence[str] = MEMORY_KINDS
) -> dict[str, Any]:
    """`memory.search`: past conversations, results and lessons most related to `query`."""
    if not query.strip():
        raise StoreError("memory.search needs a non-empty query")
    hits = store.search(query, k=max(1, min(k, 50)), kinds=kinds)
    return {"hits": [h.to_dict() for h in hits]}


def memory_save(
    store: MemoryStore, text: str, kind: str = "long", metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`memory.save`: remember `text` for later runs (kind `long` or `reflection`)."""
    if kind not in SAVABLE_KINDS:
        raise StoreError(f"memory.save stores kinds {', '.join(SAVABLE_KINDS)}, not {kind!r}")
    ids = store.add([text], kind=kind, metadata={"via": "memory.save", **(metadata or {})})
    return {"id": ids[0], "kind": kind}


def documents_search(store: MemoryStore, query: str, k: int = 5) -> dict[str, Any]:
    """`documents.search`: chunks of ingested files most related to `query`, with sources."""
    if not query.strip():
        raise StoreError("documents.search needs a non-empty query")
    hits = store.search(query, k=max(1, min(k, 50)), kinds=["document"])
    return {"hits": [h.to_dict() for h in hits]}
