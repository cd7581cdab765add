"""The store's SQLite schema: versioned migrations, WAL, and the change log.

SQLite is the source of truth. Triggers write every insert, vector update and delete of
an item into `changes` in the same transaction, so the FAISS index (a derived cache) can
always be brought up to date by replaying the log past the point it was saved at.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from engine.errors import StoreError

KINDS = ("short", "long", "reflection", "document")

#: (version, name, SQL). Append only; never edit an applied migration.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "items, documents, change log",
        f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in KINDS)})),
            text TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{{}}',
            created REAL NOT NULL,
            updated REAL NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            source TEXT,
            position INTEGER,
            text_hash TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE INDEX items_kind_created ON items (kind, created);
        CREATE UNIQUE INDEX items_source_position ON items (source, position)
            WHERE source IS NOT NULL;
        CREATE TABLE documents (
            source TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            chunks INTEGER NOT NULL,
            ingested REAL NOT NULL
        );
        CREATE TABLE changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            item_id INTEGER NOT NULL,
            op TEXT NOT NULL
        );
        CREATE TRIGGER items_added AFTER INSERT ON items
            BEGIN INSERT INTO changes (item_id, op) VALUES (new.id, 'add'); END;
        CREATE TRIGGER items_revectored AFTER UPDATE OF vector ON items
            BEGIN INSERT INTO changes (item_id, op) VALUES (new.id, 'update'); END;
        CREATE TRIGGER items_deleted AFTER DELETE ON items
            BEGIN INSERT INTO changes (item_id, op) VALUES (old.id, 'delete'); END;
        """,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def connect(path: Path, busy_timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open (creating) the database in WAL mode, migrated to SCHEMA_VERSION."""
    try:
        # One thread at a time per store object, but not always the one that opened it
        # (the window opens a store, a worker thread runs the agent).
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, not only a killed process.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"cannot open the memory database {path} ({exc}); if it is corrupt, restore it "
            "from an export (memory import) or move it away to start empty"
        ) from exc
    return conn


def applied_versions(conn: sqlite3.Connection) -> list[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
    )
    return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing migrations, each in its own transaction; return the version."""
    done = applied_versions(conn)
    if done and done[-1] > SCHEMA_VERSION:
        raise StoreError(
            f"this memory store has schema version {done[-1]}, newer than this workbench "
            f"understands ({SCHEMA_VERSION}): update Agent Workbench"
        )
    for version, name, sql in MIGRATIONS:
        if version in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version in applied_versions(conn):  # another process got there first
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                (version, name, stamp),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (triggers keep their inner `;`)."""
    out: list[str] = []
    buf = ""
    for part in sql.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out
