"""Fixtures for the panel tests: the memory browser's real store (real embedder, SQLite,
FAISS) in the test's data home, the panel on it, and the messages it reports. Its data and
waits are in tests/helpers/memory_browser.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.memory.embedder import Embedder
from engine.memory.settings import MemorySettings
from engine.memory.store import MemoryStore
from tests.helpers.memory_browser import FACTS, LESSON


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
def messages(qtbot: object) -> Iterator[list[object]]:
    from gui.bridge.messages import message_bridge

    got: list[object] = []
    message_bridge().message.connect(got.append)
    yield got
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
