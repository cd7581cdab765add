"""`MemoryStore`: the operations on one agent's memory (see core.py for the life cycle).

store = MemoryStore.open("my-agent")              # <data home>/memory/my-agent/
ids = store.add(["the user prefers metric units"], kind="long")
hits = store.search("which units?", k=5, kinds=["long"])
store.close()
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import StoreError
from engine.manifest import is_prepared
from engine.memory.core import NoticeCallback, StoreCore, now, store_folder
from engine.memory.filters import Filter
from engine.memory.items import ITEM_COLUMNS, Hit, MemoryItem, Retrieval, check_kind
from engine.memory.settings import MemorySettings
from engine.progress import ProgressCallback, Reporter

_BATCH = 900


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embedder_folder(settings: MemorySettings) -> Path:
    """The prepared embedder the settings name; StoreError with the fix when it is missing."""
    name = settings.embedder
    folder = settings.embedder_folder()
    if not is_prepared(folder):
        raise StoreError(
            f"the embedder {name!r} is not prepared; run: python main.py model prepare "
            "--source embedder-default"
        )
    return folder


class MemoryStore(StoreCore):
    @classmethod
    def open(
        cls,
        agent: str | None = None,
        path: Path | str | None = None,
        embedder: Any = None,
        settings: MemorySettings | None = None,
        on_notice: NoticeCallback | None = None,
        progress: ProgressCallback | None = None,
    ) -> MemoryStore:
        """The store of `agent` in the data home, or the store folder at `path`."""
        if (agent is None) == (path is None):
            raise StoreError("open a memory store by agent name or by path (exactly one)")
        folder = store_folder(agent) if agent is not None else Path(path).expanduser()  # type: ignore[arg-type]
        return cls(folder, embedder, settings, on_notice, progress)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ embedder
    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from engine.memory.embedder import Embedder

            self._embedder = Embedder(embedder_folder(self.settings))
        return self._embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self._check_embedder()
        return np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)

    def _check_embedder(self) -> None:
        stored, name = self.meta("embedder"), self.embedder.name
        if stored is not None and stored != name:
            raise StoreError(
                f"this store's vectors come from the embedder {stored!r}, not {name!r}; use "
                f"{stored!r}, or re-embed everything with: memory rebuild --reembed"
            )

    # ------------------------------------------------------------------ writes
    def add(
        self,
        texts: Sequence[str],
        kind: str = "long",
        metadata: Sequence[dict[str, Any]] | dict[str, Any] | None = None,
        pinned: bool = False,
        created: Sequence[float] | None = None,
        vectors: np.ndarray | None = None,
    ) -> list[int]:
        """Add a batch of items in one transaction; returns their ids."""
        check_kind(kind)
        texts = [str(t) for t in texts]
        if any(not t.strip() for t in texts):
            raise StoreError("a memory item needs some text (got an empty string)")
        metas = self._metas(metadata, len(texts))
        if vectors is None:
            vectors = self.embed(texts)
        stamp = now()
        times = list(created) if created is not None else [stamp] * len(texts)
        rows = [
            (kind, t, json.dumps(m), c, stamp, int(pinned), None, None, text_hash(t), v.tobytes())
            for t, m, c, v in zip(texts, metas, times, vectors, strict=True)
        ]
        return self._insert(rows, vectors.shape[1])

    def _insert(self, rows: list[tuple[Any, ...]], dim: int) -> list[int]:
        with self.transaction() as conn:
            self._claim_embedder(conn, dim)
            ids = [
                int(
                    conn.execute(
                        "INSERT INTO items (kind, text, metadata, created, updated, pinned, "
                        "source, position, text_hash, vector) VALUES (?,?,?,?,?,?,?,?,?,?) "
                        "RETURNING id",
                        row,
                    ).fetchone()[0]
                )
                for row in rows
            ]
        self._after_write()
        return ids

    def _claim_embedder(self, conn: Any, dim: int) -> None:
        if self.meta("dimension") is None:
            self._set_meta(conn, "dimension", str(dim))
            self._set_meta(conn, "embedder", self.embedder.name)
        elif int(self.meta("dimension") or 0) != dim:
            raise StoreError(f"vectors of dimension {dim} do not fit this store")

    @staticmethod
    def _metas(metadata: Any, n: int) -> list[dict[str, Any]]:
        if metadata is None:
            return [{} for _ in range(n)]
        if isinstance(metadata, dict):
            return [dict(metadata) for _ in range(n)]
        metas = [dict(m) for m in metadata]
        if len(metas) != n:
            raise StoreError(f"{len(metas)} metadata entries for {n} texts")
        return metas

    def _after_write(self) -> None:
        self.catch_up()
        self.maybe_save()

    def update_text(self, item_id: int, text: str) -> MemoryItem:
        """Replace an item's text and re-embed it."""
        if not text.strip():
            raise StoreError("a memory item needs some text (got an empty string)")
        self._require(item_id)
        vector = self.embed([text])[0]
        with self.transaction() as conn:
            conn.execute(
                "UPDATE items SET text = ?, text_hash = ?, vector = ?, updated = ? WHERE id = ?",
                (text, text_hash(text), vector.tobytes(), now(), item_id),
            )
        self._after_write()
        return self._require(item_id)

    def pin(self, item_id: int, pinned: bool = True) -> MemoryItem:
        self._require(item_id)
        with self.transaction() as conn:
            conn.execute("UPDATE items SET pinned = ? WHERE id = ?", (int(pinned), item_id))
        return self._require(item_id)

    def delete(self, ids: Sequence[int]) -> int:
        """Delete items by id; returns how many existed."""
        removed = 0
        with self.transaction() as conn:
            for start in range(0, len(ids), _BATCH):
                part = list(ids[start : start + _BATCH])
                marks = ",".join("?" * len(part))
                removed += conn.execute(f"DELETE FROM items WHERE id IN ({marks})", part).rowcount
        self._after_write()
        return removed

    def delete_where(self, where: Filter) -> int:
        sql, params = where.sql()
        with self.transaction() as conn:
            removed = conn.execute(f"DELETE FROM items WHERE {sql}", params).rowcount
            if where.kinds is None or "document" in where.kinds:
                conn.execute(
                    "DELETE FROM documents WHERE source NOT IN "
                    "(SELECT DISTINCT source FROM items WHERE source IS NOT NULL)"
                )
        self._after_write()
        return int(removed)

    def forget_older_than(
        self, seconds: float, kinds: Sequence[str] | None = None, keep_pinned: bool = True
    ) -> int:
        """Delete items created more than `seconds` ago (pinned ones stay unless asked).

        Without `kinds`, only memories (short, long, reflection): ingested documents are
        replaced by re-ingestion, not aged out, unless `document` is asked for.
        """
        chosen = tuple(kinds) if kinds is not None else ("short", "long", "reflection")
        return self.delete_where(
            Filter(kinds=chosen, until=now() - seconds, pinned=False if keep_pinned else None)
        )

    # ------------------------------------------------------------------ reads
    def get(self, item_id: int) -> MemoryItem | None:
        row = self.conn.execute(
            f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)
        ).fetchone()
        return MemoryItem.from_row(row) if row else None

    def _require(self, item_id: int) -> MemoryItem:
        item = self.get(item_id)
        if item is None:
            raise StoreError(f"no memory item with id {item_id} in {self.name!r}")
        return item

    def items(
        self, where: Filter | None = None, limit: int = 100, offset: int = 0
    ) -> list[MemoryItem]:
        sql, params = (where or Filter()).sql()
        rows = self.conn.execute(
            f"SELECT {ITEM_COLUMNS} FROM items WHERE {sql} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [MemoryItem.from_row(r) for r in rows]

    def fetch(self, ids: Sequence[int]) -> dict[int, MemoryItem]:
        found: dict[int, MemoryItem] = {}
        for start in range(0, len(ids), _BATCH):
            part = list(ids[start : start + _BATCH])
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(
                f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})", part
            ):
                found[int(row[0])] = MemoryItem.from_row(row)
        return found

    def search(
        self,
        query: str | np.ndarray,
        k: int = 5,
        kinds: Sequence[str] | None = None,
        where: Filter | None = None,
    ) -> list[Hit]:
        """Top-k items by cosine similarity, optionally filtered by kind/time/metadata."""
        from engine.memory.search import search

        where = where or Filter()
        if kinds is not None:
            where = where.with_kinds(kinds)
        vector = self.embed([query])[0] if isinstance(query, str) else np.asarray(query, np.float32)
        return search(self, vector, k, where)

    def stats(self) -> dict[str, Any]:
        from engine.memory.maintenance import stats

        return stats(self)

    # ------------------------------------------------------------------ maintenance
    def dedupe(
        self, threshold: float | None = None, kinds: Sequence[str] | None = None
    ) -> list[int]:
        from engine.memory.maintenance import dedupe

        return dedupe(self, threshold, kinds)

    def rebuild(self, reembed: bool = False) -> None:
        """Rebuild the index from SQLite (re-embedding every text first if asked)."""
        if reembed:
            from engine.memory.maintenance import reembed as reembed_all

            reembed_all(self, Reporter(self._progress))
        self.rebuild_index()

    def export_jsonl(self, path: Path | str) -> int:
        from engine.memory.maintenance import export_jsonl

        return export_jsonl(self, Path(path))

    def import_jsonl(self, path: Path | str) -> int:
        from engine.memory.maintenance import import_jsonl

        return import_jsonl(self, Path(path))

    # ------------------------------------------------------------------ documents
    def document_hash(self, source: str) -> str | None:
        row = self.conn.execute(
            "SELECT sha256 FROM documents WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else str(row[0])

    def replace_document(
        self,
        source: str,
        sha256: str,
        size: int,
        chunks: Sequence[tuple[str, dict[str, Any]]],
        vectors: np.ndarray,
    ) -> list[int]:
        """Replace all chunks of `source` in one transaction (a crash keeps old or new)."""
        stamp = now()
        with self.transaction() as conn:
            self._claim_embedder(conn, vectors.shape[1])
            conn.execute("DELETE FROM items WHERE source = ?", (source,))
            ids = [
                int(
                    conn.execute(
                        "INSERT INTO items (kind, text, metadata, created, updated, pinned, "
                        "source, position, text_hash, vector) VALUES "
                        "('document',?,?,?,?,0,?,?,?,?) RETURNING id",
                        (
                            text,
                            json.dumps(meta),
                            stamp,
                            stamp,
                            source,
                            position,
                            text_hash(text),
                            vector.tobytes(),
                        ),
                    ).fetchone()[0]
                )
                for position, ((text, meta), vector) in enumerate(zip(chunks, vectors, strict=True))
            ]
            conn.execute(
                "INSERT OR REPLACE INTO documents (source, sha256, size, chunks, ingested) "
                "VALUES (?, ?, ?, ?, ?)",
                (source, sha256, size, len(ids), stamp),
            )
        self._after_write()
        return ids

    # ------------------------------------------------------------------ agent-facing
    def retrieve(
        self,
        query: str,
        k: int = 5,
        token_budget: int = 512,
        kinds: Sequence[str] | None = None,
    ) -> Retrieval:
        """Relevance + recency + pinning, top-k within a token budget (an event)."""
        from engine.memory.retrieval import DEFAULT_KINDS, retrieve

        return retrieve(self, query, k, token_budget, kinds if kinds is not None else DEFAULT_KINDS)
