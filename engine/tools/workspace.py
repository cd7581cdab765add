"""Paths the model gives, confined to the agent's workspace folder.

A path is relative to the workspace. Absolute paths, `..` parts and paths that resolve
outside the workspace (through a symlink anywhere on the way) are refused.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from engine.tools.base import ToolError


def inside(workspace: Path, path: str) -> Path:
    """The real location of `path` in the workspace; `ToolError` if it would leave it."""
    text = path.strip() or "."
    if "\x00" in text:
        raise ToolError("a path cannot contain a NUL character")
    if (
        PurePosixPath(text).is_absolute()
        or PureWindowsPath(text).is_absolute()
        or PureWindowsPath(text).drive
        or text.startswith("~")
    ):
        raise ToolError(f"{path!r} is an absolute path; give a path relative to the workspace")
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        raise ToolError(f"{path!r} goes up with '..'; paths must stay inside the workspace")
    root = workspace.resolve()
    resolved = (root / text).resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise ToolError(f"{path!r} leads outside the workspace (through a symlink); refused")
    return resolved


def shown(workspace: Path, path: Path) -> str:
    """How a path inside the workspace is shown to the model (relative, with /)."""
    rel = path.relative_to(workspace.resolve()).as_posix()
    return rel or "."


def is_inside(workspace: Path, path: Path) -> bool:
    """Whether an existing path (maybe a symlink) really stays in the workspace."""
    try:
        return path.resolve().is_relative_to(workspace.resolve())
    except OSError:
        return False
