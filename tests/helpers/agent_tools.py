"""Tools for agent-loop tests: one that works, two that fail, one that asks, one that waits."""

from __future__ import annotations

import time

from engine.tools.base import ToolError


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
    time.sleep(seconds)  # the tool's work is taking time: what the tests around it measure
    return "rested"
