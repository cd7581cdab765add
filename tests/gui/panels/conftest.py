"""Fixtures for the panel tests: the memory browser's real store and panel
(tests/gui/panels/memory_support.py), registered here once for every panel test file."""

from __future__ import annotations

from tests.gui.panels.memory_support import (
    make_panel,
    memory_home,
    messages,
    notes,
    open_store,
    shared_embedder,
)

__all__ = ["make_panel", "memory_home", "messages", "notes", "open_store", "shared_embedder"]
