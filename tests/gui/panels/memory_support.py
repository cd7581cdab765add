"""Fixtures for the memory browser tests: a real store (real embedder, SQLite, FAISS) in the
test's data home, the panel on it, and the messages it reports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.memory.embedder import Embedder
from engine.memory.settings import MemorySettings
from engine.memory.store import MemoryStore

FACTS = [
    "The user prefers metric units for every measurement.",
    "The staging server is rebooted every Sunday at 03:00 UTC.",
    "Alice is allergic to peanuts and avoids Thai restaurants.",
    "The quarterly report is due on the fifth working day of the quarter.",
    "Our VPN uses WireGuard on port 51820.",
]
LESSON = "Lesson: check the VPN port in the runbook before answering network questions."


@pytest.fixture(scope="session")
def shared_embedder(default_embedder: Path) -> Embedder:
    return Embedder(default_embedder, provider="cpu")


@pytest.fixture
def memory_home(_data_home: Path, default_embedder: Path) -> MemorySettings:
    """The data home's settings.toml names the real embedder (as a person would)."""
    _data_home.mkdir(parents=True, exist_ok=True)
    (_data_home / "settings.toml").write_text(
        f'[memory]\nembedder = "{default_embedder}"\n', encoding="utf-8"
    )
    return MemorySettings(embedder=str(default_embedder))


@pytest.fixture
def open_store(
    memory_home: MemorySettings, shared_embedder: Embedder
) -> Callable[[str], MemoryStore]:
    """Opens a store of the data home with the shared embedder (close it before the panel)."""

    def opener(name: str) -> MemoryStore:
        return MemoryStore.open(agent=name, settings=memory_home, embedder=shared_embedder)

    return opener


@pytest.fixture
def notes(open_store: Callable[[str], MemoryStore]) -> list[int]:
    """The store `notes`: five long-term facts and one reflection; returns their ids."""
    with open_store("notes") as store:
        ids = store.add(FACTS, kind="long")
        ids += store.add([LESSON], kind="reflection")
    return ids


@pytest.fixture
def messages(qtbot: object) -> list[object]:
    from gui.bridge.messages import message_bridge

    got: list[object] = []
    message_bridge().message.connect(got.append)
    yield got  # type: ignore[misc]
    message_bridge().message.disconnect(got.append)


@pytest.fixture
def make_panel(ctx: object, qtbot: object) -> Iterator[Callable[[], object]]:
    from gui.panels.memory import QtMemoryBrowser

    made: list[QtMemoryBrowser] = []

    def make() -> QtMemoryBrowser:
        panel = QtMemoryBrowser(ctx)  # type: ignore[arg-type]
        qtbot.addWidget(panel)  # type: ignore[attr-defined]
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close_store()
    ctx.pool.wait(30_000)  # type: ignore[attr-defined]


def wait_op(qtbot: object, panel: object, name: str, timeout: int = 60_000) -> object:
    """A context manager waiting for the panel to finish the operation `name`."""
    return qtbot.waitSignal(  # type: ignore[attr-defined]
        panel.finished,  # type: ignore[attr-defined]
        timeout=timeout,
        check_params_cb=lambda done: done == name,
    )


def listed_panel(qtbot: object, make_panel: Callable[[], object]) -> object:
    """A panel that opened the only store and listed its first page."""
    panel = make_panel()
    qtbot.waitUntil(  # type: ignore[attr-defined]
        lambda: panel.pages.total > 0 and not panel.pages.pending,  # type: ignore[attr-defined]
        timeout=60_000,
    )
    return panel
