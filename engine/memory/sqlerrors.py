"""SQLite errors -> messages a person can act on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.errors import StoreError, StoreFullError


def translate(exc: sqlite3.Error, folder: Path) -> StoreError:
    text = str(exc).lower()
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
