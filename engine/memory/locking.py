"""A cross-process lock around writing and reloading a store's index file."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".index.lock"
_guard = threading.RLock()
_held: dict[str, int] = {}


@contextmanager
def file_lock(folder: Path) -> Iterator[None]:
    """Exclusive advisory lock (flock on POSIX, msvcrt on Windows), blocking, re-entrant."""
    path = folder / LOCK_NAME
    key = str(path.resolve())
    with _guard:
        if _held.get(key):
            _held[key] += 1
            try:
                yield
            finally:
                _held[key] -= 1
            return
        _held[key] = 1
        try:
            with _locked(path):
                yield
        finally:
            _held.pop(key, None)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        if os.name == "posix":
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        else:  # Windows: lock the first byte (not run here)
            import msvcrt

            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
