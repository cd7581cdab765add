"""Load, validate and save `*.agent.yaml` files without losing what the person wrote.

ruamel.yaml keeps the order of keys and the comments; a save merges the new values into
the document that was loaded, so comments on unchanged parts survive. A save is written
next to the file and renamed over it only when complete and valid.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from engine import schema_problems, yamlsafe
from engine.agent.spec import SCHEMA_VERSION, AgentSpec
from engine.errors import WorkbenchError
from engine.paths import resource
from engine.schema_problems import Problem

SCHEMA_PATH = resource("schemas", "agent.schema.json")


class AgentFileError(WorkbenchError):
    """An agent file cannot be read, is invalid, or cannot be saved."""


@dataclass
class AgentFile:
    """A loaded agent file: its spec, the YAML document (comments and order) and its hash."""

    path: Path | None
    spec: AgentSpec
    document: Any
    sha256: str

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def workspace(self) -> Path:
        """The workspace folder, read as every path of the file is (`places.resolve`)."""
        from engine.agent.places import resolve

        return resolve(self.folder, self.spec.workspace)


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The agent file's JSON Schema: engine/resources/schemas/agent.schema.json, with the
    `$defs` of its `tools` and `mcp_servers` entries from their one definition
    (engine.tools.entries), made here so each built-in's settings schema stays with the
    tool's code."""
    from engine.tools.entries import definitions

    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    data["$defs"] = {**data.get("$defs", {}), **definitions()}
    return data


def _yaml() -> YAML:
    yaml = YAML()  # round-trip mode: keeps order, comments, quoting style
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # long lines stay as the person wrote them (no re-folding)
    return yaml


def plain(value: Any) -> Any:
    """ruamel containers -> dicts and lists (scalars stay as they are)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _line_of(document: Any, path: list[Any]) -> int | None:
    """1-based line of the node at `path` (or its nearest parent that has one)."""
    node = document
    line: int | None = None
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(node, CommentedMap) and key in node:
                line = lc.key(key)[0] + 1
            elif lc is not None and isinstance(node, CommentedSeq) and 0 <= int(key) < len(node):
                line = lc.item(int(key))[0] + 1
            node = node[key]
        except (KeyError, IndexError, TypeError, ValueError):
            break
    if line is None and getattr(document, "lc", None) is not None:
        line = document.lc.line + 1
    return line


#: An error lists at most this many problems, each cut to `MAX_PROBLEM_CHARS` (a message quotes
#: the value it found, which may be a whole list): a clear error, never a flood.
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 300


def _lines(problems: list[Problem], document: Any = None, source: str = "agent file") -> list[str]:
    """`source, line N: field: what is wrong (what is allowed)`, one line per problem."""
    messages = []
    for problem in problems:
        line = _line_of(document, list(problem.path)) if document is not None else None
        where = f"{source}, line {line}" if line else source
        allowed = f" ({problem.allowed})" if problem.allowed else ""
        message = problem.message
        if len(message) > MAX_PROBLEM_CHARS:
            message = message[:MAX_PROBLEM_CHARS] + "…"
        messages.append(f"{where}: {problem.field}: {message}{allowed}")
    return messages


def _report(lines: list[str], source: str) -> str:
    """The first `MAX_PROBLEMS` lines, and how many more there are."""
    shown = lines[:MAX_PROBLEMS]
    if len(lines) > MAX_PROBLEMS:
        shown.append(f"{source}: ... and {len(lines) - MAX_PROBLEMS} more problems")
    return "\n".join(shown)


def schema_errors(data: Any, document: Any = None, source: str = "agent file") -> list[str]:
    """Every problem of `data` against the schema: field, line and what is allowed."""
    return _lines(schema_problems.problems(schema(), data), document, source)


def errors(data: Any, document: Any = None, source: str = "agent file") -> list[str]:
    """Everything that keeps `data` from loading or from running: the schema's problems,
    then (on schema-valid data) what the tool catalogue would refuse (a duplicate tool, a
    memory tool with memory off, ...), from the entries' one definition."""
    from engine.tools import entries

    found = schema_problems.problems(schema(), data)
    if not found:
        memory = bool((data.get("memory") or {}).get("enabled", False))
        tools, servers = data.get("tools") or (), data.get("mcp_servers") or ()
        found = entries.problems(tools, servers, memory=memory)
    return _lines(found, document, source)


#: What one agent file may cost to read (engine.yamlsafe): size, aliases, nesting.
LIMITS = yamlsafe.Limits(kind="agent files")


def parse(text: str, path: Path | None = None) -> AgentFile:
    """An agent file from YAML text; raises `AgentFileError` naming field, line, allowed."""
    source = str(path) if path else "agent file"
    try:
        document = yamlsafe.load(text, source, LIMITS)
    except yamlsafe.YamlError as exc:
        raise AgentFileError(str(exc)) from exc
    if not isinstance(document, dict):
        raise AgentFileError(
            f"{source}: expected a mapping with schema_version, name, goals, ... at the top"
        )
    version = document.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise AgentFileError(
            f"{source}: schema_version {version} is newer than this workbench understands "
            f"({SCHEMA_VERSION}); update Agent Workbench"
        )
    data = plain(document)
    problems = errors(data, document, source)
    if problems:
        raise AgentFileError(_report(problems, source))
    try:
        spec = AgentSpec.from_data(data)
    except (TypeError, ValueError) as exc:
        raise AgentFileError(f"{source}: {exc}") from exc
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return AgentFile(path, spec, document, digest)


def load(path: Path | str) -> AgentFile:
    path = Path(path)
    try:
        text = yamlsafe.read_text(path, LIMITS)  # the size is checked before reading
    except yamlsafe.YamlError as exc:
        raise AgentFileError(f"cannot read the agent file: {exc}") from exc
    return parse(text, path)


def _apply(target: Any, old: Any, new: Any) -> Any:
    """Apply the change old -> new to the ruamel node `target`; untouched parts (and their
    comments, order and any default the person left out) stay exactly as they were."""
    if old == new:
        return target
    if isinstance(target, CommentedMap) and isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new and k in target]:
            del target[key]
        for key, value in new.items():
            if key in target:
                target[key] = _apply(target[key], old.get(key), value)
            elif old.get(key) != value:
                target[key] = value
        return target
    same_shape = isinstance(old, list) and isinstance(new, list) and len(old) == len(new)
    if isinstance(target, CommentedSeq) and same_shape and len(target) == len(old):
        for i, value in enumerate(new):
            target[i] = _apply(target[i], old[i], value)
        return target
    return new


def dump(spec: AgentSpec, original: AgentFile | None = None) -> str:
    """YAML text for `spec`; with `original` (a loaded file) only the changes are applied."""
    data = spec.to_data()
    problems = schema_errors(data)
    if problems:
        raise AgentFileError(
            "refusing to save an invalid agent:\n" + _report(problems, "agent file")
        )
    node: Any = data
    if original is not None:
        node = _apply(copy.deepcopy(original.document), original.spec.to_data(), data)
    buffer = io.StringIO()
    _yaml().dump(node, buffer)
    return buffer.getvalue()


def save(spec: AgentSpec, path: Path | str, original: AgentFile | None = None) -> AgentFile:
    """Write atomically: a temporary file beside `path`, checked, then renamed over it.

    Pass the loaded `original` to keep its comments, order and formatting.
    """
    path = Path(path)
    text = dump(spec, original)
    checked = parse(text, path)  # what we write must load back to the same agent
    if checked.spec != spec:
        raise AgentFileError(f"internal error: {path} would not load back to the same agent")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise AgentFileError(f"cannot save {path}: {exc}") from exc
    return checked
