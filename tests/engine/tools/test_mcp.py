"""MCP: a real server (official SDK) over stdio and streamable HTTP joins the catalogue."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine.progress import CancelToken
from engine.tools.base import ToolContext, ToolRegistry
from engine.tools.catalog import build_registry
from engine.tools.errors import MCPServerError, ToolSettingsError
from tests.helpers.waiting import wait_until

SERVER = str(Path(__file__).with_name("mcp_notes_server.py"))
REMOTE_TOOLS = ["add_note", "list_notes", "stats", "whoami", "explode", "nap", "crash"]


def stdio_entry(**fields: Any) -> dict[str, Any]:
    return {
        "name": "notes",
        "transport": "stdio",
        "command": [sys.executable, SERVER, "stdio"],
        "approval": "auto",
        **fields,
    }


def _server_pids() -> set[int]:
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if SERVER in cmd and "stdio" in cmd:
            found.add(proc.pid)
    return found


def exercise(registry: ToolRegistry, ctx: ToolContext, prefix: str) -> None:
    assert [t.name for t in registry] == [f"{prefix}.{n}" for n in REMOTE_TOOLS]
    add = registry.get(f"{prefix}.add_note")
    assert add is not None and add.description == "Save a note."
    assert add.parameters["required"] == ["text"] and add.source == f"mcp:{prefix}"
    assert "text (string, required)" in add.manual()

    saved = registry.call(f"{prefix}.add_note", {"text": "buy milk"}, context=ctx)
    assert saved.ok and saved.output == "saved note 1"
    listed = registry.call(f"{prefix}.list_notes", {}, context=ctx)
    assert listed.output == "buy milk"
    stats = registry.call(f"{prefix}.stats", {"numbers": [1, 2, 3]}, context=ctx)
    assert stats.ok and stats.data == {"sum": 6.0, "mean": 2.0}
    bad = registry.call(f"{prefix}.stats", {"numbers": "1,2"}, context=ctx)
    assert bad.error_kind == "invalid_arguments"
    fire = registry.call(f"{prefix}.explode", {}, context=ctx)
    assert fire.error_kind == "failed" and "the notebook caught fire" in fire.output


def test_stdio_server(workspace: Path, ctx: ToolContext) -> None:
    before = _server_pids()
    entry = stdio_entry(env={"NOTES_TOKEN": "t0k3n"}, timeout_s=1)
    with build_registry(
        [{"name": "calculator"}], [entry], workspace=workspace, trust=True
    ) as registry:
        assert registry.names[0] == "calculator"
        tools = ToolRegistry([t for t in registry if t.name.startswith("notes.")])
        exercise(tools, ctx, "notes")
        where = registry.call("notes.whoami", {}, context=ctx)
        assert where.output == f"{workspace} t0k3n"
        slow = registry.call("notes.nap", {"seconds": 5}, context=ctx)
        assert slow.error_kind == "timeout" and "1 s" in slow.output
        assert registry.call("notes.list_notes", {}, context=ctx).output == "buy milk"
        assert len(_server_pids() - before) == 1
    wait_until(lambda: not _server_pids() - before, timeout=5, what="the server to stop on close")


def test_ask_approval_for_server_tools(workspace: Path, ctx: ToolContext) -> None:
    entry = stdio_entry()
    del entry["approval"]
    with build_registry([], [entry], workspace=workspace, trust=True) as registry:
        refused = registry.call("notes.list_notes", {}, context=ctx, before_call=lambda r: False)
        assert refused.error_kind == "refused"
        allowed = registry.call("notes.list_notes", {}, context=ctx, before_call=lambda r: True)
        assert allowed.ok and allowed.output == "no notes"


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aw-mcp"]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, SERVER, "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: _listening(port), timeout=30, interval=0.1, what=f"the server on {port}")
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


def test_streamable_http_server(workspace: Path, ctx: ToolContext, http_server: str) -> None:
    entry = {"name": "remote", "transport": "http", "url": http_server, "approval": "auto"}
    with build_registry([], [entry], workspace=workspace, trust=True) as registry:
        exercise(registry, ctx, "remote")


def test_unreachable_and_broken_servers_name_the_entry(workspace: Path) -> None:
    port = _free_port()
    entry = {"name": "remote", "transport": "http", "url": f"http://127.0.0.1:{port}/mcp"}
    with pytest.raises(MCPServerError, match=r"mcp_servers\[0\] 'remote': could not start or"):
        build_registry([], [entry], workspace=workspace, trust=True)
    crash = stdio_entry(command=[sys.executable, "-c", "import sys; sys.exit('no notebook here')"])
    with pytest.raises(MCPServerError, match="no notebook here"):
        build_registry([], [crash], workspace=workspace, trust=True)
    missing = stdio_entry(command=["/nonexistent/mcp-server"])
    with pytest.raises(MCPServerError, match=r"mcp_servers\[0\] 'notes'"):
        build_registry([], [missing], workspace=workspace, trust=True)
    wait_until(lambda: not _loop_threads(), timeout=5, what="the servers' loop threads to stop")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"transport": "sse"}, "field 'transport'"),
        ({"command": []}, "field 'command'"),
        ({"env": {"A": 1}}, "field 'env'"),
        ({"name": "my.notes"}, "field 'name'"),
        ({"timeout_s": -1}, "field 'timeout_s'"),
        ({"approval": "always"}, "field 'approval'"),
        ({"url": "http://x"}, "unknown field 'url'"),
        ({"transport": "http", "url": "ftp://x"}, "field 'url'"),
    ],
)
def test_bad_server_entries(workspace: Path, change: dict[str, Any], message: str) -> None:
    entry = stdio_entry() | change
    if entry["transport"] == "http":
        del entry["command"]
    with pytest.raises(ToolSettingsError, match=message):
        build_registry([], [entry], workspace=workspace, trust=True)


def test_cancel_ends_a_waiting_call(workspace: Path) -> None:
    cancel = CancelToken()
    ctx = ToolContext(workspace=workspace, cancel=cancel)
    with build_registry([], [stdio_entry()], workspace=workspace, trust=True) as registry:
        threading.Timer(0.5, cancel.cancel).start()
        start = time.monotonic()
        result = registry.call("notes.nap", {"seconds": 20}, context=ctx)
        assert result.error_kind == "failed" and result.output == "cancelled"
        assert time.monotonic() - start < 5


def test_deny_keeps_server_tools_out_of_reach(workspace: Path, ctx: ToolContext) -> None:
    with build_registry(
        [], [stdio_entry(approval="deny")], workspace=workspace, trust=True
    ) as registry:
        assert len(registry) == len(REMOTE_TOOLS) and registry.callable_tools() == []
        denied = registry.call("notes.list_notes", {}, context=ctx, before_call=lambda r: True)
        assert denied.error_kind == "refused"


def test_a_server_that_dies_gives_error_results(workspace: Path, ctx: ToolContext) -> None:
    entry = stdio_entry(timeout_s=5)
    with build_registry([], [entry], workspace=workspace, trust=True) as registry:
        start = time.monotonic()
        died = registry.call("notes.crash", {}, context=ctx)
        after = registry.call("notes.list_notes", {}, context=ctx)
        assert died.error_kind == after.error_kind == "failed"
        assert "the MCP server 'notes' failed" in after.output
        assert time.monotonic() - start < 15
