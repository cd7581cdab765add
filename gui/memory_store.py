"""`StoreHandle`: one agent's open `MemoryStore` as the memory browser uses it.

A store object may be used by one thread at a time (engine/memory/schema.py), and the
browser's work runs in pool workers: every worker body takes `handle.lock` for as long
as it touches the store, so a search asked for during an ingestion simply waits for it.
The store's progress callback (fixed at open) forwards to whichever worker holds the lock.
Notices (an index rebuilt at open ...) go to the message path.
"""

from __future__ import annotations

import importlib
import re
import threading
from typing import Any

from engine import paths
from engine.errors import StoreError
from engine.manifest import is_prepared
from engine.memory.core import DB_NAME
from engine.memory.items import StoreNotice
from engine.memory.settings import MemorySettings, load_settings
from engine.memory.store import MemoryStore
from engine.progress import Progress, ProgressCallback
from gui.bridge import report

KINDS = ("short", "long", "reflection", "document")


def store_name(agent: str) -> str:
    """The store folder of an agent's name (the agent core's rule: `Notes keeper` ->
    `notes-keeper`); falls back to the same rule where the agent core does not have it."""
    try:
        module = importlib.import_module("engine.agent.memory")
    except ImportError:
        module = None
    rule = getattr(module, "store_name", None)
    if rule is not None:
        return str(rule(agent))
    slug = re.sub(r"[^a-z0-9_.-]+", "-", agent.lower()).strip("-._")[:64]
    return slug or "agent"


def existing_stores() -> list[str]:
    """Names of the stores in the data home's memory/ folder (those with a database)."""
    root = paths.memory_dir()
    return sorted(p.name for p in root.iterdir() if (p / DB_NAME).is_file())


def settings_or_defaults() -> tuple[MemorySettings, str | None]:
    """The `[memory]` settings, or the defaults and the reason the file was refused."""
    try:
        return load_settings(), None
    except StoreError as exc:
        return MemorySettings(), str(exc)


def embedder_ready(settings: MemorySettings) -> bool:
    return is_prepared(settings.embedder_folder())


def notice_to_messages(notice: StoreNotice) -> None:
    report("warning", f"[memory] {notice.store}: {notice.message}")


class StoreHandle:
    """An open store plus the lock that serialises the workers using it."""

    def __init__(self, name: str, settings: MemorySettings | None = None) -> None:
        self.name = name
        self.settings = settings
        self.lock = threading.Lock()
        self.store: MemoryStore | None = None
        self.closed = False
        self._sink: ProgressCallback | None = None

    def _forward(self, p: Progress) -> None:
        if self._sink is not None:
            self._sink(p)

    def run(self, fn: Any, *args: Any, progress: ProgressCallback | None = None) -> Any:
        """`fn(store, *args)` under the lock, store progress going to `progress`; the
        first call opens the store (which may rebuild its index, with progress)."""
        with self.lock:
            if self.closed:
                raise StoreError(f"the memory store {self.name!r} was closed")
            self._sink = progress
            try:
                if self.store is None:
                    self.store = MemoryStore.open(
                        agent=self.name,
                        settings=self.settings,
                        on_notice=notice_to_messages,
                        progress=self._forward,
                    )
                return fn(self.store, *args)
            finally:
                self._sink = None

    def close(self, wait_s: float = -1) -> bool:
        """Close the store (its index file is saved if it changed); False if another
        worker kept the lock longer than `wait_s` (the change log replays at next open)."""
        if not self.lock.acquire(timeout=wait_s):
            return False
        try:
            self.closed = True
            if self.store is not None:
                self.store.close()
                self.store = None
            return True
        finally:
            self.lock.release()
