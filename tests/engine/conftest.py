"""Engine fixtures (the model fixtures they build on are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def memory_home(_data_home: Path, default_embedder: Path) -> Path:
    """The test's data home with settings.toml naming the default embedder: memory works."""
    _data_home.mkdir(parents=True, exist_ok=True)
    (_data_home / "settings.toml").write_text(f'[memory]\nembedder = "{default_embedder}"\n')
    return _data_home
