"""Agent-loop fixtures: a small tool registry (tests/helpers/agent_tools.py) and a workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.tools.base import Tool, ToolRegistry
from tests.helpers.agent_tools import add, boom, nap, picky, secret


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry(
        [
            Tool.from_function(add),
            Tool.from_function(boom),
            Tool.from_function(picky),
            Tool.from_function(secret, approval="ask"),
            Tool.from_function(nap),
        ]
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder
