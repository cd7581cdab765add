"""Shared fixtures: every test gets its own data home; slow model builds are cached."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Models that take seconds to minutes to build live here between test sessions (CI reuses it).
CACHE_ENV = "AGENT_WORKBENCH_TEST_CACHE"


def test_cache_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / ".cache" / "test-models"
    path = Path(os.environ.get(CACHE_ENV, default))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data home at a temporary folder: no test touches the real one."""
    home = tmp_path / "home"
    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return test_cache_dir()
