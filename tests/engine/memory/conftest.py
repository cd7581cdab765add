"""Memory fixtures: one real embedder per session, a fresh store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.memory.embedder import Embedder
from engine.memory.settings import MemorySettings
from engine.memory.store import MemoryStore


@pytest.fixture(scope="session")
def embedder(default_embedder: Path) -> Embedder:
    return Embedder(default_embedder, provider="cpu")


@pytest.fixture
def settings(default_embedder: Path) -> MemorySettings:
    return MemorySettings(embedder=str(default_embedder))


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder, settings: MemorySettings) -> Iterator[MemoryStore]:
    opened = MemoryStore.open(path=tmp_path / "store", embedder=embedder, settings=settings)
    yield opened
    opened.close()
