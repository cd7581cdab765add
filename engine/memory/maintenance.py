"""Store maintenance: stats, near-duplicate removal, re-embedding, JSON Lines export/import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import StoreError
from engine.memory.core import DB_NAME, INDEX_NAME
from engine.memory.index import gpu_count
from engine.memory.items import ITEM_COLUMNS, MemoryItem
from engine.memory.schema import KINDS, SCHEMA_VERSION
from engine.progress import Reporter

if TYPE_CHECKING:
    from engine.memory.store import MemoryStore

EXPORT_FORMAT = "agent-workbench-memory/1"


def stats(store: MemoryStore) -> dict[str, Any]:
    store.catch_up()
    counts = dict.fromkeys(KINDS, 0)
    for kind, n in store.conn.execute("SELECT kind, COUNT(*) FROM items GROUP BY kind"):
        counts[kind] = n
    pinned = store.conn.execute("SELECT COUNT(*) FROM items WHERE pinned = 1").fetchone()[0]
    docs = store.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    files = {
        name: (store.folder / name).stat().st_size
        for name in (DB_NAME, DB_NAME + "-wal", INDEX_NAME)
        if (store.folder / name).exists()
    }
    index = store.index
    return {
        "store": store.name,
        "folder": str(store.folder),
        "schema_version": SCHEMA_VERSION,
        "items": sum(counts.values()),
        "kinds": counts,
        "pinned": pinned,
        "documents": docs,
        "embedder": store.meta("embedder"),
        "dimension": store.dimension(),
        "index": {
            "kind": index.kind if index else None,
            "live": index.live if index else 0,
            "dead_rows": index.dead if index else 0,
            "seq": index.seq if index else 0,
            "device": "gpu" if gpu_count() > 0 and index and index.kind == "flat" else "cpu",
        },
        "bytes": files,
        "notices": [n.message for n in store.notices],
    }


def dedupe(store: MemoryStore, threshold: float | None = None, kinds: Any = None) -> list[int]:
    """Delete near-identical items (cosine >= threshold, same kind); keep pinned, then oldest."""
    from engine.memory.filters import Filter

    limit = store.settings.dedupe_cosine if threshold is None else threshold
    sql, params = Filter(kinds=kinds).sql()
    rows = store.conn.execute(
        f"SELECT id, kind, pinned, vector FROM items WHERE {sql} ORDER BY pinned DESC, created, id",
        params,
    ).fetchall()
    if len(rows) < 2:
        return []
    ids = np.asarray([r[0] for r in rows], np.int64)
    vectors = np.frombuffer(b"".join(r[3] for r in rows), np.float32).reshape(len(rows), -1)
    kind_of = {r[0]: r[1] for r in rows}
    order = {int(item_id): rank for rank, item_id in enumerate(ids)}  # keep-first order
    doomed: set[int] = set()
    for row, neighbours in _near(store, ids, vectors, limit):
        if int(ids[row]) in doomed:
            continue
        for other in neighbours:
            if order[other] > row and kind_of[other] == kind_of[int(ids[row])]:
                doomed.add(other)
    if doomed:
        store.delete(sorted(doomed))
    return sorted(doomed)


def _near(
    store: MemoryStore, ids: np.ndarray, vectors: np.ndarray, limit: float, block: int = 1024
) -> Iterator[tuple[int, list[int]]]:
    """(row, ids with cosine >= limit): exact blocks while small, the index's top 16 after."""
    exact = len(ids) <= store.settings.exact_filter_limit or store.index is None
    for start in range(0, len(ids), block):
        part = vectors[start : start + block]
        if exact:
            scores = part @ vectors.T
            for offset, line in enumerate(scores):
                yield start + offset, [int(ids[j]) for j in np.nonzero(line >= limit)[0]]
        else:
            assert store.index is not None
            got, found = store.index.search(part, 16)
            for offset in range(len(part)):
                near = found[offset][got[offset] >= limit]
                yield start + offset, [int(i) for i in near if i >= 0]


def reembed(store: MemoryStore, report: Reporter, batch: int = 256) -> int:
    """Re-embed every item with the store's current embedder (after changing embedder)."""
    embedder = store.embedder
    total = store.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    done = 0
    last = 0
    while True:
        rows = store.conn.execute(
            "SELECT id, text FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
        ).fetchall()
        if not rows:
            break
        vectors = np.asarray(embedder.embed([r[1] for r in rows]), np.float32)
        with store.transaction() as conn:
            conn.executemany(
                "UPDATE items SET vector = ? WHERE id = ?",
                [(v.tobytes(), r[0]) for v, r in zip(vectors, rows, strict=True)],
            )
            if done == 0:
                store._set_meta(conn, "embedder", embedder.name)
                store._set_meta(conn, "dimension", str(vectors.shape[1]))
        done += len(rows)
        last = rows[-1][0]
        report("re-embed", done, total, embedder.name)
    return done


def export_jsonl(store: MemoryStore, path: Path) -> int:
    """Write every item as one JSON object per line (vectors are not exported)."""
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"format": EXPORT_FORMAT, "store": store.name}) + "\n")
        for row in store.conn.execute(f"SELECT {ITEM_COLUMNS} FROM items ORDER BY id"):
            fh.write(json.dumps(MemoryItem.from_row(row).to_dict(), ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def import_jsonl(store: MemoryStore, path: Path, batch: int = 256) -> int:
    """Add the items of an export (re-embedded); items already present are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or json.loads(lines[0]).get("format") != EXPORT_FORMAT:
        raise StoreError(f"{path} is not a memory export (first line must name {EXPORT_FORMAT})")
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise StoreError(f"{path}:{number} is not valid JSON ({exc})") from exc
    existing = {
        (r[0], r[1], r[2]) for r in store.conn.execute("SELECT kind, text, created FROM items")
    }
    fresh = [r for r in records if (r["kind"], r["text"], r["created"]) not in existing]
    added = 0
    for start in range(0, len(fresh), batch):
        part = fresh[start : start + batch]
        for kind in {r["kind"] for r in part}:
            group = [r for r in part if r["kind"] == kind]
            for pinned in (False, True):
                sub = [r for r in group if bool(r.get("pinned")) == pinned]
                if sub:
                    store.add(
                        [r["text"] for r in sub],
                        kind=kind,
                        metadata=[r.get("metadata") or {} for r in sub],
                        pinned=pinned,
                        created=[float(r["created"]) for r in sub],
                    )
                    added += len(sub)
    return added
