"""A damaged, truncated or foreign memory database is one clear StoreError, never a
traceback, and nothing the person has is changed (no embedder needed: the rows are
written with SQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.memory.store import MemoryStore
from tests.helpers.memory_db import damage_page, filled, page_size

ADVICE = "nothing was changed. Move the folder aside"


def refused(folder: Path) -> str:
    with pytest.raises(StoreError) as info:
        MemoryStore.open(path=folder).close()
    return str(info.value)


def test_a_file_of_garbage(tmp_path: Path) -> None:
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "memory.sqlite3").write_bytes(bytes(range(256)) * 32)
    message = refused(folder)
    assert message.startswith(f"the memory store {folder} is damaged or is not an Agent")
    assert "(file is not a database)" in message and ADVICE in message
    assert (folder / "memory.sqlite3").read_bytes() == bytes(range(256)) * 32


def test_a_truncated_database(tmp_path: Path) -> None:
    db = filled(tmp_path / "s")
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    message = refused(db.parent)
    assert "(database disk image is malformed)" in message and ADVICE in message


def test_someone_elses_database_is_not_touched(tmp_path: Path) -> None:
    folder = tmp_path / "foreign"
    folder.mkdir()
    db = folder / "memory.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE items (a, b)")
    conn.execute("INSERT INTO items VALUES (1, 2)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    message = refused(folder)
    assert "(it holds the tables items but no memory schema)" in message
    assert db.read_bytes() == before  # before: a schema_migrations table was added to it


def test_a_table_missing_behind_the_migration_record(tmp_path: Path) -> None:
    db = filled(tmp_path / "s", items=1)

    def change(sql: str) -> None:
        conn = sqlite3.connect(db)
        conn.execute(sql)
        conn.commit()
        conn.close()

    change("ALTER TABLE items DROP COLUMN pinned")
    assert "(the table items lacks the columns pinned)" in refused(db.parent)
    change("ALTER TABLE items ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")
    change("DROP TABLE meta")
    assert "(the table meta is missing)" in refused(db.parent)  # before: no such table: meta


def test_a_damaged_page_met_by_a_query(tmp_path: Path) -> None:
    """The store opens (its first pages are sound); the page is met while reading items."""
    db = filled(tmp_path / "s")
    pages = db.stat().st_size // page_size(db)
    damage_page(db, pages - 5)
    with MemoryStore.open(path=db.parent) as store, pytest.raises(StoreError) as info:
        store.items(limit=1000)
    assert "(database disk image is malformed)" in str(info.value) and ADVICE in str(info.value)
