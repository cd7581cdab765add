"""The registry: schemas from functions, validation, approval and safe dispatch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import pytest

from engine.tools.base import (
    MAX_OUTPUT_CHARS,
    Tool,
    ToolCallRequest,
    ToolContext,
    ToolError,
    ToolRegistry,
)


def add(a: int, b: int = 2) -> int:
    """Add two whole numbers.

    Args:
        a: the first number
        b: the second number,
            two when left out
    """
    return a + b


def shout(
    text: str, style: Literal["upper", "title"] | None = None, *, context: ToolContext
) -> str:
    """Say it louder."""
    assert context.workspace.name == "ws"
    return text.upper() if style != "title" else text.title()


def broken() -> str:
    """Always fails."""
    raise RuntimeError("disk on fire")


def refusing() -> str:
    """Fails politely."""
    raise ToolError("nothing to read yet")


def slow() -> str:
    """Takes its time."""
    time.sleep(2)
    return "late"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    (tmp_path / "ws").mkdir()
    return ToolContext(workspace=tmp_path / "ws")


def test_schema_and_manual_come_from_signature_and_docstring() -> None:
    tool = Tool.from_function(add)
    assert tool.name == "add" and tool.description == "Add two whole numbers."
    assert tool.parameters["required"] == ["a"]
    assert tool.parameters["properties"]["a"] == {
        "type": "integer",
        "description": "the first number",
    }
    assert tool.parameters["properties"]["b"]["default"] == 2
    assert "two when left out" in tool.parameters["properties"]["b"]["description"]
    manual = tool.manual()
    assert "a (integer, required): the first number" in manual
    assert "b (integer, optional)" in manual


def test_literal_and_context_parameters() -> None:
    tool = Tool.from_function(shout)
    assert tool.takes_context
    assert "context" not in tool.parameters["properties"]
    assert tool.parameters["properties"]["style"] == {"enum": ["upper", "title"]}


def test_call_validates_and_runs(ctx: ToolContext) -> None:
    reg = ToolRegistry([Tool.from_function(add), Tool.from_function(shout)])
    ok = reg.call("add", {"a": 2, "b": 5}, context=ctx)
    assert ok.ok and ok.output == "7" and ok.data == 7
    assert (
        reg.call("shout", {"text": "hi there", "style": "title"}, context=ctx).output == "Hi There"
    )

    bad = reg.call("add", {"a": "two"}, context=ctx)
    assert not bad.ok and bad.error_kind == "invalid_arguments" and "a:" in bad.output
    extra = reg.call("add", {"a": 1, "c": 3}, context=ctx)
    assert extra.error_kind == "invalid_arguments"
    assert reg.call("add", ["a"], context=ctx).error_kind == "invalid_arguments"

    unknown = reg.call("subtract", {}, context=ctx)
    assert unknown.error_kind == "unknown_tool" and "add, shout" in unknown.output


def test_errors_inside_tools_become_results(ctx: ToolContext) -> None:
    reg = ToolRegistry([Tool.from_function(broken), Tool.from_function(refusing)])
    crash = reg.call("broken", {}, context=ctx)
    assert crash.error_kind == "failed" and "RuntimeError: disk on fire" in crash.output
    polite = reg.call("refusing", {}, context=ctx)
    assert polite.error_kind == "failed" and polite.output == "nothing to read yet"


def test_timeout_becomes_a_result(ctx: ToolContext) -> None:
    reg = ToolRegistry([Tool.from_function(slow, timeout_s=0.2)])
    result = reg.call("slow", {}, context=ctx)
    assert result.error_kind == "timeout" and "0.2 s" in result.output
    assert result.duration_s < 1.5


def test_approval_policies(ctx: ToolContext) -> None:
    seen: list[ToolCallRequest] = []

    def hook(request: ToolCallRequest) -> bool | str:
        seen.append(request)
        return request.arguments["a"] < 10 or "too big"

    reg = ToolRegistry([Tool.from_function(add, approval="ask")])
    assert reg.call("add", {"a": 1}, context=ctx, before_call=hook).output == "3"
    refused = reg.call("add", {"a": 11}, context=ctx, before_call=hook)
    assert refused.error_kind == "refused" and "too big" in refused.output
    assert [r.arguments["a"] for r in seen] == [1, 11]
    # No hook to ask means no: an `ask` tool never runs unapproved.
    assert reg.call("add", {"a": 1}, context=ctx).error_kind == "refused"

    denied = ToolRegistry([Tool.from_function(add, approval="deny")])
    assert denied.callable_tools() == []
    assert denied.call("add", {"a": 1}, context=ctx).error_kind == "refused"


def test_huge_output_is_clipped(ctx: ToolContext) -> None:
    def spew() -> str:
        """Lots of text."""
        return "x" * (MAX_OUTPUT_CHARS * 3)

    result = ToolRegistry([Tool.from_function(spew)]).call("spew", {}, context=ctx)
    assert len(result.output) < MAX_OUTPUT_CHARS + 100 and "more characters cut" in result.output


def test_registry_refuses_duplicates_and_bad_schemas() -> None:
    reg = ToolRegistry([Tool.from_function(add)])
    with pytest.raises(ValueError, match="already registered"):
        reg.add(Tool.from_function(add))
    with pytest.raises(Exception, match="not valid"):
        reg.add(Tool("x", "d", {"type": "nonsense"}, add))
    with pytest.raises(TypeError, match="no JSON Schema"):
        _untyped_object_tool()


def _untyped_object_tool() -> Tool:
    def odd(value: object) -> str:
        """Odd type."""
        return str(value)

    return Tool.from_function(odd)
