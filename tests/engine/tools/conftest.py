"""Fixtures for tool tests: an agent workspace folder and a context pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.tools.base import ToolContext


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


@pytest.fixture
def ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace)
