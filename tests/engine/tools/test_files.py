"""Workspace file tools: what they do, and every way out of the workspace refused."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.tools.base import ToolContext, ToolRegistry, ToolResult
from engine.tools.catalog import build_registry

FILE_TOOLS = ["files.list", "files.read", "files.search", "files.write"]


@pytest.fixture
def registry(workspace: Path) -> ToolRegistry:
    entries: list[dict[str, Any]] = [{"name": n, "approval": "auto"} for n in FILE_TOOLS]
    entries[1]["settings"] = {"max_bytes": 1000}
    return build_registry(entries, workspace=workspace)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the password is swordfish\n")
    return outside


def call(registry: ToolRegistry, ctx: ToolContext, name: str, **args: Any) -> ToolResult:
    return registry.call(name, args, context=ctx)


def test_write_list_read_search(registry: ToolRegistry, ctx: ToolContext, workspace: Path) -> None:
    wrote = call(registry, ctx, "files.write", path="notes/todo.md", content="buy milk\nCall Bob\n")
    assert wrote.ok and "notes/todo.md" in wrote.output
    assert (workspace / "notes" / "todo.md").read_text() == "buy milk\nCall Bob\n"
    again = call(registry, ctx, "files.write", path="notes/todo.md", content="x")
    assert not again.ok and "already exists" in again.output
    call(registry, ctx, "files.write", path="notes/todo.md", content="fix bike\n", mode="append")
    listing = call(registry, ctx, "files.list", recursive=True)
    assert listing.data == [
        {"path": "notes/", "type": "folder"},
        {"path": "notes/todo.md", "type": "file", "bytes": 27},
    ]
    read = call(registry, ctx, "files.read", path="notes/todo.md", start_line=2, max_lines=1)
    assert read.output == "Call Bob\n[1 more lines; read on with start_line=3]"
    found = call(registry, ctx, "files.search", text="call bob")
    assert found.data == [{"path": "notes/todo.md", "line": 2, "text": "Call Bob"}]
    assert "no line contains" in call(registry, ctx, "files.search", text="zebra").output
    # every word of the text, in any order, with underscores read as spaces
    for text in ("bob_call", "bike fix", "FIX_BIKE"):
        hit = call(registry, ctx, "files.search", text=text)
        assert hit.ok and isinstance(hit.data, list) and len(hit.data) == 1, (text, hit.output)
    assert "no line contains" in call(registry, ctx, "files.search", text="bob_milk").output


def test_size_limits(registry: ToolRegistry, ctx: ToolContext, workspace: Path) -> None:
    (workspace / "big.txt").write_text("a" * 5000)
    big = call(registry, ctx, "files.read", path="big.txt")
    assert not big.ok and "over 1000 bytes" in big.output
    (workspace / "blob.bin").write_bytes(b"\x00\x01" * 10)
    assert "binary" in call(registry, ctx, "files.read", path="blob.bin").output
    with build_registry(
        [{"name": "files.write", "approval": "auto", "settings": {"max_bytes": 10}}],
        workspace=workspace,
    ) as small:
        refused = small.call("files.write", {"path": "a.txt", "content": "x" * 11}, context=ctx)
    assert not refused.ok and "at most 10" in refused.output


ESCAPES = ["../outside/secret.txt", "notes/../../outside/secret.txt", "/etc/passwd", "~/x"]


@pytest.mark.parametrize("path", ESCAPES)
def test_traversal_and_absolute_paths_are_refused(
    registry: ToolRegistry, ctx: ToolContext, secret: Path, path: str
) -> None:
    for name, args in [
        ("files.read", {"path": path}),
        ("files.write", {"path": path, "content": "pwned"}),
        ("files.list", {"path": path}),
        ("files.search", {"text": "password", "path": path}),
    ]:
        result = registry.call(name, args, context=ctx)
        assert not result.ok and result.error_kind == "failed", (name, path)
        assert "absolute" in result.output or "'..'" in result.output
        assert "swordfish" not in result.output
    assert (secret / "secret.txt").read_text() == "the password is swordfish\n"


def test_absolute_path_to_the_workspace_itself_is_refused(
    registry: ToolRegistry, ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "a.txt").write_text("hi")
    result = call(registry, ctx, "files.read", path=str(workspace / "a.txt"))
    assert not result.ok and "absolute" in result.output


def test_symlinks_out_of_the_workspace_are_refused(
    registry: ToolRegistry, ctx: ToolContext, workspace: Path, secret: Path
) -> None:
    os.symlink(secret / "secret.txt", workspace / "link.txt")
    os.symlink(secret, workspace / "door")
    (workspace / "inner.txt").write_text("inside\n")
    os.symlink(workspace / "inner.txt", workspace / "ok-link.txt")
    for name, args in [
        ("files.read", {"path": "link.txt"}),
        ("files.read", {"path": "door/secret.txt"}),
        ("files.list", {"path": "door"}),
        ("files.write", {"path": "door/new.txt", "content": "x", "mode": "overwrite"}),
        ("files.write", {"path": "link.txt", "content": "x", "mode": "overwrite"}),
    ]:
        result = registry.call(name, args, context=ctx)
        assert not result.ok and "outside the workspace" in result.output, (name, args)
    assert not (secret / "new.txt").exists()
    assert (secret / "secret.txt").read_text() == "the password is swordfish\n"
    # Searching and listing the workspace never follow the way out.
    found = call(registry, ctx, "files.search", text="password")
    assert "swordfish" not in found.output
    listing = call(registry, ctx, "files.list")
    assert {"path": "door", "type": "link outside the workspace"} in listing.data
    assert call(registry, ctx, "files.read", path="ok-link.txt").output == "inside"


def _bounded(registry: ToolRegistry, ctx: ToolContext, name: str, **args: Any) -> ToolResult:
    """The call, in a thread given 10 s: a regression that blocks fails instead of hanging."""
    box: list[ToolResult] = []
    thread = threading.Thread(target=lambda: box.append(call(registry, ctx, name, **args)))
    thread.daemon = True
    thread.start()
    thread.join(10)
    assert box, f"{name} {args} did not return within 10 s"
    return box[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("mode", ["overwrite", "append", "create"])
def test_a_fifo_is_refused_at_once(
    registry: ToolRegistry, ctx: ToolContext, workspace: Path, mode: str
) -> None:
    os.mkfifo(workspace / "pipe")
    start = time.monotonic()
    written = _bounded(registry, ctx, "files.write", path="pipe", content="x", mode=mode)
    read = _bounded(registry, ctx, "files.read", path="pipe")
    assert time.monotonic() - start < 5.0
    assert not written.ok and written.error_kind == "failed"
    if mode == "create":
        assert "already exists" in written.output
    else:
        assert written.output == "'pipe' is a FIFO (named pipe); only regular files can be used"
    assert not read.ok and "is a FIFO (named pipe)" in read.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_with_a_reader_is_still_refused(
    registry: ToolRegistry, ctx: ToolContext, workspace: Path
) -> None:
    """With its other end open, a FIFO opens without blocking; what it is refuses it."""
    os.mkfifo(workspace / "pipe")
    reader = os.open(workspace / "pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        written = _bounded(registry, ctx, "files.write", path="pipe", content="x", mode="overwrite")
        assert os.read(reader, 10) == b""  # nothing went into the pipe
    finally:
        os.close(reader)
    assert written.output == "'pipe' is a FIFO (named pipe); only regular files can be used"


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets on this platform")
def test_a_socket_is_refused(registry: ToolRegistry, ctx: ToolContext, workspace: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        try:
            server.bind(str(workspace / "sock"))
        except OSError as exc:  # a tmp path longer than a socket address may be
            pytest.skip(f"cannot bind a Unix socket here: {exc}")
        written = _bounded(registry, ctx, "files.write", path="sock", content="x", mode="overwrite")
        read = _bounded(registry, ctx, "files.read", path="sock")
    assert written.output == "'sock' is a socket; only regular files can be used"
    assert not read.ok and "is a socket" in read.output


def test_a_device_is_refused(registry: ToolRegistry, ctx: ToolContext, workspace: Path) -> None:
    try:
        os.mknod(workspace / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (AttributeError, PermissionError, OSError) as exc:
        pytest.skip(f"making a device node needs root (CAP_MKNOD): {exc}")
    written = _bounded(registry, ctx, "files.write", path="null", content="x", mode="overwrite")
    read = _bounded(registry, ctx, "files.read", path="null")
    assert written.output == "'null' is a device; only regular files can be used"
    assert not read.ok and "is a device" in read.output


def test_a_symlink_inside_the_workspace_is_not_a_write_target(
    registry: ToolRegistry, ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "real.txt").write_text("kept\n")
    os.symlink(workspace / "real.txt", workspace / "alias.txt")
    written = call(registry, ctx, "files.write", path="alias.txt", content="x", mode="overwrite")
    assert not written.ok and "'alias.txt' is a symlink" in written.output
    assert (workspace / "real.txt").read_text() == "kept\n"
    assert call(registry, ctx, "files.read", path="alias.txt").output == "kept"


def test_modes_on_regular_files(registry: ToolRegistry, ctx: ToolContext, workspace: Path) -> None:
    assert call(registry, ctx, "files.write", path="d/a.txt", content="one").ok
    again = call(registry, ctx, "files.write", path="d/a.txt", content="two")
    assert not again.ok and "already exists" in again.output
    assert call(registry, ctx, "files.write", path="d/a.txt", content="2", mode="overwrite").ok
    assert call(registry, ctx, "files.write", path="d/a.txt", content="3", mode="append").ok
    assert (workspace / "d/a.txt").read_text() == "23"
