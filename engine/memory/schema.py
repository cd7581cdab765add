"""The store's SQLite schema: versioned migrations, WAL, and the change log.

SQLite is the source of truth. Triggers write every insert, vector update and delete of
an item into `changes` in the same transaction, so the FAISS index (a derived cache) can
always be brought up to date by replaying the log past the point it was saved at.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from pathlib import Path

from engine.errors import StoreError
from engine.memory.sqlerrors import StoreConnection, corrupt

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
    """Open (creating) the database in WAL mode, migrated to SCHEMA_VERSION and checked.

    Every error on the connection, now or later, is a `StoreError` (sqlerrors): a file
    that is not a database, a damaged page met by a query, someone else's database or
    one with tables missing say so and what to do; nothing is moved or deleted.
    """
    folder = path.parent
    try:
        # One thread at a time per store object, but not always the one that opened it
        # (the window opens a store, a worker thread runs the agent).
        conn = sqlite3.connect(
            str(path),
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
            factory=StoreConnection,
        )
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot open the memory database {path} ({exc}); check that the folder "
            f"{folder} exists and can be written"
        ) from exc
    assert isinstance(conn, StoreConnection)
    conn.folder = folder
    try:
        _refuse_foreign(conn)  # before anything is written to the file
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, not only a killed process.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
        _check_tables(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return sorted(str(r[0]) for r in rows if not str(r[0]).startswith("sqlite_"))


def _refuse_foreign(conn: StoreConnection) -> None:
    """Someone else's database (tables, but no record of our migrations) is not touched."""
    tables = _tables(conn)
    if tables and "schema_migrations" not in tables:
        raise corrupt(conn.folder, f"it holds the tables {', '.join(tables)} but no memory schema")


@functools.lru_cache(maxsize=1)
def expected_columns() -> dict[str, frozenset[str]]:
    """Table -> columns, as the migrations create them (in a throwaway in-memory database)."""
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(scratch)
        return {
            table: frozenset(str(r[1]) for r in scratch.execute(f"PRAGMA table_info({table})"))
            for table in _tables(scratch)
        }
    finally:
        scratch.close()


def _check_tables(conn: StoreConnection) -> None:
    """Every table and column the migrations made is there (a file whose migration record
    says more than its tables do is damaged, or was edited by hand)."""
    for table, columns in expected_columns().items():
        found = {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}
        if not found:
            raise corrupt(conn.folder, f"the table {table} is missing")
        if missing := sorted(columns - found):
            raise corrupt(conn.folder, f"the table {table} lacks the columns {', '.join(missing)}")


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
