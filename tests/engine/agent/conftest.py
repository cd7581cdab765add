"""Agent-loop fixtures: a small tool registry and a spec builder."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine.agent.spec import AgentSpec, PlanningSpec
from engine.tools.base import Tool, ToolError, ToolRegistry


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first number
        b: second number
    """
    return a + b


def boom(text: str) -> str:
    """A tool that always fails."""
    raise RuntimeError(f"exploded on {text}")


def picky(text: str) -> str:
    """A tool that reports a failure the model should read."""
    raise ToolError("the text must be shorter")


def secret(name: str) -> str:
    """Read a secret (needs approval)."""
    return f"secret of {name}"


def nap(seconds: float) -> str:
    """Sleep a while."""
    time.sleep(seconds)
    return "rested"


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


def make_spec(**planning: Any) -> AgentSpec:
    spec = AgentSpec(name="Tester", goals=("Answer the question.",))
    return replace(spec, planning=replace(PlanningSpec(), **planning))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder
