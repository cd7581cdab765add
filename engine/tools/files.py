"""Workspace files: list, read, search and write, confined to the agent's folder.

Files are opened without blocking and without following a final symlink, and only regular
files are read or written: a FIFO (which would block the tool's thread forever), a
socket or a device in the workspace is refused by what the open file really is.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from engine.tools import written
from engine.tools.base import Tool, ToolError
from engine.tools.builtin import BuiltinSpec
from engine.tools.workspace import inside, is_inside, shown


def _limit(name: str, default: int, text: str) -> dict[str, Any]:
    return {name: {"type": "integer", "minimum": 1, "default": default, "description": text}}


def _settings(*limits: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for limit in limits:
        props |= limit
    return {"type": "object", "properties": props, "additionalProperties": False}


#: How a file that is not a regular file is named in a refusal.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symlink"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _open_regular(path: Path, flags: int, shown_as: str) -> int:
    """A descriptor of the regular file at `path`; `ToolError` naming what it is otherwise.

    O_NONBLOCK: opening a FIFO never waits for its other end. O_NOFOLLOW: a final symlink
    (swapped in after the path was checked) is not followed. The kind of file is read from
    the open descriptor, so what is checked is what is used.
    """
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ELOOP, errno.EOPNOTSUPP):
            try:
                kind = _kind(os.lstat(path).st_mode)
            except OSError:
                kind = "not a regular file"
            raise ToolError(f"{shown_as!r} is {kind}; only regular files can be used") from exc
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ToolError(f"{shown_as!r} is {_kind(mode)}; only regular files can be used")
    return fd


def _text_of(path: Path, max_bytes: int) -> str:
    try:
        fd = _open_regular(path, os.O_RDONLY, path.name)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ToolError(f"{path.name!r} is not a file") from exc
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise ToolError(f"the file is {size} bytes; files over {max_bytes} bytes are not read")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ToolError(f"the file grew past {max_bytes} bytes while it was read")
    if b"\x00" in data[:8192]:
        raise ToolError("the file is binary; only text files can be read")
    return data.decode("utf-8", errors="replace")


def _walk(workspace: Path, start: Path, recursive: bool) -> Iterator[Path]:
    if not recursive:
        yield from sorted(start.iterdir())
        return
    for folder, dirs, files in os.walk(start, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = Path(folder)
        for name in sorted(dirs + files):
            yield base / name


def _build_list(settings: Mapping[str, Any], workspace: Path) -> Tool:
    max_entries = int(settings.get("max_entries", 200))

    def files_list(path: str = ".", recursive: bool = False) -> list[dict[str, Any]] | str:
        """List the files and folders in a workspace folder.

        Args:
            path: folder relative to the workspace ("." is the workspace itself)
            recursive: also list what is inside sub-folders
        """
        folder = inside(workspace, path)
        if not folder.is_dir():
            raise ToolError(f"{path!r} is not a folder in the workspace")
        entries: list[dict[str, Any]] = []
        for item in _walk(workspace, folder, recursive):
            if len(entries) == max_entries:
                entries.append({"note": f"more than {max_entries} entries; list a sub-folder"})
                break
            rel = item.relative_to(workspace.resolve()).as_posix()
            if item.is_symlink() and not is_inside(workspace, item):
                entries.append({"path": rel, "type": "link outside the workspace"})
            elif item.is_dir():
                entries.append({"path": rel + "/", "type": "folder"})
            else:
                entries.append({"path": rel, "type": "file", "bytes": item.stat().st_size})
        return entries or "(the folder is empty)"

    return Tool.from_function(
        files_list,
        name="files.list",
        timeout_s=15.0,
        written=written.workspace_paths(workspace, {"path": "folder"}),
        hint='"." lists the workspace',
    )


def _build_read(settings: Mapping[str, Any], workspace: Path) -> Tool:
    max_bytes = int(settings.get("max_bytes", 200_000))

    def files_read(path: str, start_line: int = 1, max_lines: int = 400) -> str:
        """Read a text file from the workspace.

        Args:
            path: file path relative to the workspace
            start_line: first line to show (1 is the first line of the file)
            max_lines: how many lines to show at most
        """
        lines = _text_of(inside(workspace, path), max_bytes).splitlines()
        first = max(start_line, 1) - 1
        part = lines[first : first + max(max_lines, 1)]
        rest = len(lines) - first - len(part)
        more = f"\n[{rest} more lines; read on with start_line={first + len(part) + 1}]"
        return "\n".join(part) + (more if rest > 0 else "")

    return Tool.from_function(
        files_read,
        name="files.read",
        timeout_s=15.0,
        written=written.workspace_paths(workspace, {"path": "file"}),
        hint='give a file name from the workspace, e.g. "notes.md"',
    )


def _build_search(settings: Mapping[str, Any], workspace: Path) -> Tool:
    max_results = int(settings.get("max_results", 50))
    max_bytes = int(settings.get("max_file_bytes", 1_000_000))

    def files_search(text: str, path: str = ".") -> list[dict[str, Any]] | str:
        """Find lines containing a text (case-insensitive) in the workspace's text files.

        A line matches when it contains the text, or else every word of it ("rain_barrel"
        and "rain barrel" both find "The rain barrel holds 200 litres").

        Args:
            text: the text to look for
            path: folder (or file) relative to the workspace to search in
        """
        if not text.strip():
            raise ToolError("give a non-empty text to search for")
        start, needle = inside(workspace, path), text.lower()
        parts = [w for w in re.split(r"[\s_]+", needle) if w]
        files = [start] if start.is_file() else _walk(workspace, start, recursive=True)
        hits: list[dict[str, Any]] = []
        for item in files:
            if not item.is_file() or not is_inside(workspace, item):
                continue
            try:
                content = _text_of(item, max_bytes)
            except (ToolError, OSError):
                continue
            for number, line in enumerate(content.splitlines(), 1):
                low = line.lower()
                if needle in low or all(w in low for w in parts):
                    hits.append({"path": shown(workspace, item), "line": number, "text": line})
                    if len(hits) >= max_results:
                        return [*hits, {"note": f"stopped after {max_results} matches"}]
        return hits or f"no line contains {text!r}"

    return Tool.from_function(
        files_search,
        name="files.search",
        timeout_s=30.0,
        written=written.merged(
            written.workspace_paths(workspace, {"path": "folder"}),
            written.static({"text": {"pattern": written.SEARCH_PATTERN}}),
        ),
        hint="one or two words that the answer's line contains",
    )


def _build_write(settings: Mapping[str, Any], workspace: Path) -> Tool:
    max_bytes = int(settings.get("max_bytes", 1_000_000))

    def files_write(
        path: str, content: str, mode: Literal["create", "overwrite", "append"] = "create"
    ) -> str:
        """Write a text file in the workspace (folders on the way are created).

        Args:
            path: file path relative to the workspace
            content: the text to write
            mode: "create" refuses to replace an existing file; "overwrite" replaces it;
                "append" adds to its end
        """
        data = content.encode("utf-8")
        if len(data) > max_bytes:
            raise ToolError(f"the content is {len(data)} bytes; at most {max_bytes} are written")
        target = inside(workspace, path)
        if (workspace.resolve() / path.strip()).is_symlink():
            raise ToolError(f"{path!r} is a symlink; write to the file it points to instead")
        if target.is_dir():
            raise ToolError(f"{path!r} is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT
        flags |= {"create": os.O_EXCL, "append": os.O_APPEND, "overwrite": 0}[mode]
        try:
            fd = _open_regular(target, flags, path)
        except FileExistsError as exc:
            raise ToolError(f"{path!r} already exists; use mode 'overwrite' or 'append'") from exc
        with os.fdopen(fd, "wb") as handle:
            size = os.fstat(fd).st_size
            if mode == "append" and size + len(data) > max_bytes:
                raise ToolError(f"the file would grow past {max_bytes} bytes")
            if mode == "overwrite":
                os.ftruncate(fd, 0)  # only now: the file is known to be a regular one
            handle.write(data)
        return f"wrote {len(data)} bytes to {shown(workspace, target)}"

    return Tool.from_function(
        files_write,
        name="files.write",
        timeout_s=15.0,
        written=written.static({"path": {"pattern": written.PATH_PATTERN}}),
    )


SPECS = [
    BuiltinSpec(
        "files.list",
        "Lists files and folders in the agent's workspace.",
        _build_list,
        _settings(_limit("max_entries", 200, "most entries shown in one listing")),
    ),
    BuiltinSpec(
        "files.read",
        "Reads text files from the agent's workspace.",
        _build_read,
        _settings(_limit("max_bytes", 200_000, "largest file read, in bytes")),
    ),
    BuiltinSpec(
        "files.search",
        "Finds lines containing a text in the workspace's text files.",
        _build_search,
        _settings(
            _limit("max_results", 50, "most matching lines returned"),
            _limit("max_file_bytes", 1_000_000, "larger files are skipped"),
        ),
    ),
    BuiltinSpec(
        "files.write",
        "Writes text files in the agent's workspace.",
        _build_write,
        _settings(_limit("max_bytes", 1_000_000, "largest file written, in bytes")),
        approval="ask",
    ),
]
