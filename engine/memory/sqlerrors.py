"""SQLite errors -> messages a person can act on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.errors import StoreError, StoreFullError

#: What SQLite says when the file is damaged or is not our database.
_CORRUPT = ("malformed", "not a database", "file is encrypted", "no such table", "no such column")


def corrupt(folder: Path, what: str) -> StoreError:
    """The one message for a damaged or foreign memory database: what is wrong and what
    to do. Nothing is moved or deleted for the person: it may be all they have."""
    db = folder / "memory.sqlite3"
    return StoreError(
        f"the memory store {folder} is damaged or is not an Agent Workbench memory store "
        f"({what}); nothing was changed. Move the folder aside (the agent then starts with "
        f"an empty memory) or restore it from an export with `memory import`; "
        f"`sqlite3 {db} .recover` may save what is left"
    )


def translate(exc: sqlite3.Error, folder: Path) -> StoreError:
    text = str(exc).lower()
    if any(sign in text for sign in _CORRUPT):
        return corrupt(folder, str(exc))
    if "full" in text or "disk i/o" in text or "too large" in text:
        return StoreFullError(
            f"the memory store {folder} could not write ({exc}): the disk is full or a "
            "file-size limit was reached; nothing of this write was saved and everything "
            "saved before is intact. Free some space and try again"
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the memory store {folder} is busy: another process kept it locked ({exc}); "
            "try again when that process has finished"
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(f"the memory store {folder} is read-only ({exc}); check permissions")
    return StoreError(f"the memory store {folder} failed ({exc})")


class StoreCursor(sqlite3.Cursor):
    """A cursor whose SQLite errors (at execute or at any fetch: SQLite meets a damaged
    page only when it reads it) are `StoreError`s naming the store."""

    folder: Path

    def _translated(self, exc: sqlite3.Error) -> StoreError:
        return translate(exc, getattr(self.connection, "folder", Path("?")))

    def execute(self, sql: str, parameters: Any = (), /) -> StoreCursor:
        try:
            super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> StoreCursor:
        try:
            super().executemany(sql, seq_of_parameters)
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        return self

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    def fetchmany(self, size: int | None = None) -> list[Any]:
        try:
            return super().fetchmany(self.arraysize if size is None else size)
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc


class StoreConnection(sqlite3.Connection):
    """A connection to one store's database (`folder`) whose statements run on
    `StoreCursor`s: an error anywhere is a `StoreError` saying what to do, never a
    traceback."""

    folder: Path

    def execute(self, sql: str, parameters: Any = (), /) -> StoreCursor:
        return self.cursor(StoreCursor).execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> StoreCursor:
        return self.cursor(StoreCursor).executemany(sql, seq_of_parameters)
