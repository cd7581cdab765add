"""Command tools: JSON on stdin, JSON or text back, and every way a program can fail."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine.progress import CancelToken
from engine.tools.base import ToolContext
from engine.tools.catalog import build_registry
from engine.tools.errors import ToolSettingsError
from tests.helpers.waiting import wait_until

PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def _tool(workspace: Path, script: str, **fields: Any) -> dict[str, Any]:
    path = workspace.parent / "tool.py"
    path.write_text(script)
    return {
        "name": "weather",
        "kind": "command",
        "description": "Weather in a city",
        "parameters": PARAMS,
        "command": [sys.executable, str(path)],
        "approval": "auto",
        **fields,
    }


def _call(workspace: Path, ctx: ToolContext, script: str, **fields: Any) -> Any:
    entry = _tool(workspace, script, **fields)
    with build_registry([entry], workspace=workspace, trust=True) as registry:
        return registry.call("weather", {"city": "Oslo"}, context=ctx)


JSON_TOOL = """
import json, sys, os
args = json.load(sys.stdin)
print(json.dumps({"city": args["city"], "temp_c": 4, "cwd": os.getcwd()}))
"""


def test_json_in_json_out(workspace: Path, ctx: ToolContext) -> None:
    result = _call(workspace, ctx, JSON_TOOL)
    assert result.ok, result.output
    assert result.data == {"city": "Oslo", "temp_c": 4, "cwd": str(workspace)}


def test_text_output_and_string_command(workspace: Path, ctx: ToolContext) -> None:
    (workspace / "sub").mkdir()
    script = (
        "import sys, os; d = sys.stdin.read(); print('got', d, 'in', os.path.basename(os.getcwd()))"
    )
    path = workspace.parent / "t.py"
    path.write_text(script)
    entry = _tool(workspace, "", command=f"{sys.executable} {path}", cwd="sub")
    with build_registry([entry], workspace=workspace, trust=True) as registry:
        result = registry.call("weather", {"city": "Oslo"}, context=ctx)
    assert result.ok and result.data is None
    assert result.output == 'got {"city": "Oslo"} in sub'


def test_invalid_arguments_never_reach_the_program(workspace: Path, ctx: ToolContext) -> None:
    entry = _tool(workspace, JSON_TOOL)
    with build_registry([entry], workspace=workspace, trust=True) as registry:
        bad = registry.call("weather", {"town": "Oslo"}, context=ctx)
    assert bad.error_kind == "invalid_arguments"


def test_non_zero_exit_is_an_error_result(workspace: Path, ctx: ToolContext) -> None:
    result = _call(workspace, ctx, "import sys; sys.stderr.write('no such city'); sys.exit(3)")
    assert result.error_kind == "failed"
    assert "exit status 3" in result.output and "no such city" in result.output


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_timeout_kills_the_program_and_its_children(workspace: Path, ctx: ToolContext) -> None:
    script = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
open("child.pid", "w").write(str(child.pid))
time.sleep(60)
"""
    start = time.monotonic()
    result = _call(workspace, ctx, script, timeout_s=1.5)
    assert result.error_kind == "timeout" and "1.5 s" in result.output
    assert time.monotonic() - start < 6
    child = int((workspace / "child.pid").read_text())
    wait_until(lambda: _gone(child), timeout=3, what="the tool's child to end with the timeout")


def test_huge_output_is_clipped(workspace: Path, ctx: ToolContext) -> None:
    result = _call(workspace, ctx, "import sys; sys.stdout.write('y' * 5_000_000)")
    assert result.ok
    assert "more characters cut" in result.output and len(result.output) < 4200


def test_missing_program(workspace: Path, ctx: ToolContext) -> None:
    entry = _tool(workspace, "", command=["/nonexistent/weather-tool"])
    with build_registry([entry], workspace=workspace, trust=True) as registry:
        result = registry.call("weather", {"city": "Oslo"}, context=ctx)
    assert result.error_kind == "failed" and "could not start" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"description": ""}, "field 'description' is required"),
        ({"parameters": {"type": "string"}}, "field 'parameters'"),
        ({"command": []}, "field 'command' is empty"),
        ({"command": 5}, "field 'command' must be"),
        ({"command": "weather 'unclosed"}, "field 'command'"),
        ({"timeout_s": 0}, "field 'timeout_s'"),
        ({"approval": "sometimes"}, "field 'approval'"),
        ({"shell": True}, "unknown field 'shell'"),
    ],
)
def test_bad_command_entries(workspace: Path, change: dict[str, Any], message: str) -> None:
    entry = _tool(workspace, "") | change
    with pytest.raises(ToolSettingsError, match=message) as caught:
        build_registry([entry], workspace=workspace, trust=True)
    assert "tools[0] 'weather'" in str(caught.value)


def test_ask_approval_guards_the_program(workspace: Path, ctx: ToolContext) -> None:
    script = "import pathlib; pathlib.Path('ran').write_text('yes'); print('done')"
    entry = _tool(workspace, script)
    del entry["approval"]  # command tools ask by default
    asked: list[dict[str, Any]] = []
    with build_registry([entry], workspace=workspace, trust=True) as registry:
        refused = registry.call(
            "weather",
            {"city": "Oslo"},
            context=ctx,
            before_call=lambda r: asked.append(r.arguments) is not None,
        )
        assert refused.error_kind == "refused" and not (workspace / "ran").exists()
        allowed = registry.call(
            "weather", {"city": "Oslo"}, context=ctx, before_call=lambda r: True
        )
        assert allowed.ok and allowed.output == "done" and (workspace / "ran").exists()
    assert asked == [{"city": "Oslo"}]


def test_an_argument_called_context_reaches_the_program(workspace: Path, ctx: ToolContext) -> None:
    script = "import json, sys; print(json.dumps(json.load(sys.stdin)))"
    params = {"type": "object", "properties": {"context": {"type": "string"}}}
    entry = _tool(workspace, script, parameters=params)
    with build_registry([entry], workspace=workspace, trust=True) as registry:
        result = registry.call("weather", {"context": "kitchen"}, context=ctx)
    assert result.data == {"context": "kitchen"}


def test_cancel_stops_the_program(workspace: Path) -> None:
    cancel = CancelToken()
    ctx = ToolContext(workspace=workspace, cancel=cancel)
    entry = _tool(workspace, "import time; time.sleep(30)")
    threading.Timer(0.5, cancel.cancel).start()
    start = time.monotonic()
    with build_registry([entry], workspace=workspace, trust=True) as registry:
        result = registry.call("weather", {"city": "Oslo"}, context=ctx)
    assert result.error_kind == "failed" and "cancelled" in result.output
    assert time.monotonic() - start < 5
