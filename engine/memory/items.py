"""Typed records of the memory store: items, search hits, retrieval events, notices."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.memory.schema import KINDS

ITEM_COLUMNS = "id, kind, text, metadata, created, updated, pinned, source, position"


@dataclass(frozen=True)
class MemoryItem:
    id: int
    kind: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0
    pinned: bool = False
    source: str | None = None
    position: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> MemoryItem:
        return cls(
            id=int(row[0]),
            kind=str(row[1]),
            text=str(row[2]),
            metadata=json.loads(row[3] or "{}"),
            created=float(row[4]),
            updated=float(row[5]),
            pinned=bool(row[6]),
            source=row[7],
            position=row[8],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """One search result: the item and its similarity (cosine, -1..1)."""

    item: MemoryItem
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "text": self.item.text,
            "kind": self.item.kind,
            "score": round(self.score, 6),
            "pinned": self.item.pinned,
            "created": self.item.created,
            "metadata": self.item.metadata,
            "source": self.item.source,
            "position": self.item.position,
        }


@dataclass(frozen=True)
class ScoredMemory:
    """A retrieved item with the parts of its final score (why it was used)."""

    item: MemoryItem
    relevance: float
    recency: float
    pinned_bonus: float
    score: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "kind": self.item.kind,
            "text": self.item.text,
            "relevance": round(self.relevance, 6),
            "recency": round(self.recency, 6),
            "pinned_bonus": self.pinned_bonus,
            "score": round(self.score, 6),
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class Retrieval:
    """Event: one retrieval for the "Relevant memory" prompt section."""

    query: str
    items: tuple[ScoredMemory, ...]
    k: int
    token_budget: int
    tokens_used: int
    candidates: int
    t: float = 0.0


@dataclass(frozen=True)
class StoreNotice:
    """Something the person should see: an index rebuilt, a file that was corrupt."""

    store: str
    message: str


def check_kind(kind: str) -> str:
    from engine.errors import StoreError

    if kind not in KINDS:
        raise StoreError(f"unknown memory kind {kind!r}: choose one of {', '.join(KINDS)}")
    return kind
