"""Workspace file tools: what they do, and every way out of the workspace refused."""

from __future__ import annotations

import os
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
