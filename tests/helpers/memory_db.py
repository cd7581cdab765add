"""Memory databases written with SQL (no embedder), and damage done to them by hand."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from engine.memory import schema


def filled(folder: Path, items: int = 300) -> Path:
    """A store folder whose database holds `items` rows of ~1 KB (many pages)."""
    folder.mkdir(parents=True)
    db = folder / "memory.sqlite3"
    conn = schema.connect(db)
    now = time.time()
    conn.executemany(
        "INSERT INTO items (kind, text, created, updated, text_hash, vector) "
        "VALUES ('long', ?, ?, ?, ?, ?)",
        [(f"{i} " + "x" * 1000, now, now, str(i), bytes(16)) for i in range(items)],
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


def page_size(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def damage_page(db: Path, page: int) -> None:
    """Overwrite page `page` (1-based) with a pattern SQLite cannot read."""
    size = page_size(db)
    with db.open("r+b") as handle:
        handle.seek(size * (page - 1))
        handle.write(b"\xa5" * size)
