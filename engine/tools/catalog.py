"""An agent's tool catalogue, built from the tool and MCP entries of its agent file.

Entries arrive as parsed YAML (dicts). A built-in is `{name, approval?, settings?}`; a
command tool is `{name, kind: command, description, parameters, command, ...}`; MCP
servers are a separate list and their tools join as `<server>.<tool>`. Anything wrong
raises a `ToolConfigError` naming the entry and the field. Command tools and stdio MCP
servers run programs on this machine, so they need `trust=True`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from engine.tools import calculator, clock, files, http_get, python_tool
from engine.tools.base import APPROVAL_POLICIES, Tool, ToolError, ToolRegistry
from engine.tools.builtin import BuiltinSpec
from engine.tools.errors import (
    ToolConfigError,
    ToolSettingsError,
    UnknownToolError,
    UntrustedToolsError,
)

_SPECS: list[BuiltinSpec] = [
    calculator.SPEC,
    python_tool.SPEC,
    *files.SPECS,
    clock.SPEC,
    http_get.SPEC,
]

#: Every built-in tool by name: description, settings JSON Schema, default approval.
BUILTINS: dict[str, BuiltinSpec] = {spec.name: spec for spec in _SPECS}

#: Names kept for the memory tools, which the agent injects through `extra`.
RESERVED_NAMES = ("memory.search", "memory.save", "documents.search")

_BUILTIN_FIELDS = ("name", "kind", "approval", "settings")


def where(entry: Mapping[str, Any], index: int, section: str = "tools") -> str:
    """How an entry is named in messages: `tools[2] 'weather'`."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return f"{section}[{index}]" + (f" {name!r}" if isinstance(name, str) else "")


def approval_of(entry: Mapping[str, Any], default: str, label: str) -> Any:
    approval = entry.get("approval", default)
    if approval not in APPROVAL_POLICIES:
        raise ToolSettingsError(
            f"{label}: field 'approval' is {approval!r}; use one of {', '.join(APPROVAL_POLICIES)}"
        )
    return approval


def _settings_problem(schema: dict[str, Any], settings: Any) -> str | None:
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(settings), key=str)
    if not errors:
        return None
    first = errors[0]
    path = "/".join(str(p) for p in first.absolute_path)
    return f"{'settings.' + path if path else 'settings'}: {first.message}"


def build_builtin(entry: Mapping[str, Any], workspace: Path, label: str) -> Tool:
    """One built-in tool from its entry, with its settings checked."""
    name = entry["name"]
    spec = BUILTINS.get(name)
    if spec is None:
        known = ", ".join(sorted(BUILTINS))
        raise UnknownToolError(
            f"{label}: field 'name': there is no built-in tool {name!r}; built-ins: {known}. "
            "A tool of your own needs 'kind: command' and a 'command'."
        )
    unknown = sorted(set(entry) - set(_BUILTIN_FIELDS))
    if unknown:
        raise ToolSettingsError(
            f"{label}: unknown field {unknown[0]!r}; a built-in entry has "
            f"{', '.join(_BUILTIN_FIELDS)} (put tool options under 'settings')"
        )
    settings = entry.get("settings") or {}
    problem = _settings_problem(spec.settings_schema, settings)
    if problem:
        raise ToolSettingsError(f"{label}: field {problem}")
    try:
        tool = spec.factory(settings, workspace)
    except ToolError as exc:
        raise ToolSettingsError(f"{label}: field 'settings': {exc}") from exc
    tool.approval = approval_of(entry, spec.approval, label)
    return tool


def _is_command(entry: Mapping[str, Any]) -> bool:
    return entry.get("kind") == "command"


def _check_kind(entry: Mapping[str, Any], label: str) -> None:
    kind = entry.get("kind", "builtin")
    if kind not in ("builtin", "command"):
        raise ToolSettingsError(f"{label}: field 'kind' is {kind!r}; use builtin or command")


def _runs_commands(
    tools: Sequence[Mapping[str, Any]], mcp_servers: Sequence[Mapping[str, Any]]
) -> list[str]:
    found = [f"command tool {t.get('name')!r}" for t in tools if _is_command(t)]
    found += [
        f"MCP server {s.get('name')!r} (stdio)"
        for s in mcp_servers
        if s.get("transport", "stdio") == "stdio"
    ]
    return found


def _check_entries(entries: Sequence[Any], section: str) -> None:
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ToolConfigError(f"{section}[{index}]: each entry must be a mapping")
        if not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise ToolConfigError(f"{section}[{index}]: field 'name' is missing or empty")


def build_registry(
    tools: Sequence[Mapping[str, Any]],
    mcp_servers: Sequence[Mapping[str, Any]] = (),
    *,
    workspace: Path,
    trust: bool = False,
    extra: Sequence[Tool] = (),
) -> ToolRegistry:
    """The registry of an agent; close it (or use `with`) to stop its MCP servers."""
    _check_entries(tools, "tools")
    _check_entries(mcp_servers, "mcp_servers")
    risky = _runs_commands(tools, mcp_servers)
    if risky and not trust:
        raise UntrustedToolsError(
            f"this agent file runs commands on your machine: {'; '.join(risky)}; "
            "run with --trust if you trust it"
        )
    registry = ToolRegistry()
    supplied = {tool.name: tool for tool in extra}
    try:
        for index, entry in enumerate(tools):
            label = where(entry, index)
            _check_kind(entry, label)
            if entry["name"] in RESERVED_NAMES and not _is_command(entry):
                tool = _reserved(entry, supplied, label)
                _add(registry, tool, label)
                supplied.pop(tool.name)
            elif _is_command(entry):
                from engine.tools.command import build_command_tool

                _add(registry, build_command_tool(entry, workspace, label), label)
            else:
                _add(registry, build_builtin(entry, workspace, label), label)
        if mcp_servers:
            from engine.tools.mcp_client import attach_servers

            attach_servers(registry, mcp_servers, workspace)
        for tool in supplied.values():
            _add(registry, tool, f"tool {tool.name!r}")
    except BaseException:
        registry.close()
        raise
    return registry


def _reserved(entry: Mapping[str, Any], supplied: dict[str, Tool], label: str) -> Tool:
    """A memory tool the agent file lists: the one the run supplies, with the entry's approval."""
    tool = supplied.get(entry["name"])
    if tool is None:
        raise ToolConfigError(
            f"{label}: {entry['name']!r} comes with the agent's memory, which is not available "
            "for this run; turn memory on in the agent file or remove this tool"
        )
    if "settings" in entry:
        raise ToolSettingsError(f"{label}: field 'settings': the memory tools take no settings")
    return dataclasses.replace(tool, approval=approval_of(entry, tool.approval, label))


def _add(registry: ToolRegistry, tool: Tool, label: str) -> None:
    if tool.name in registry:
        raise ToolConfigError(f"{label}: a tool named {tool.name!r} is already in the catalogue")
    try:
        registry.add(tool)
    except (ValueError, jsonschema.SchemaError) as exc:
        raise ToolConfigError(f"{label}: {exc}") from exc


def tool_entry_schema() -> dict[str, Any]:
    """JSON Schema of one `tools` entry (for the agent file's schema and editors)."""
    from engine.tools.entry_schema import tool_entry_schema as schema

    return schema(BUILTINS, RESERVED_NAMES)


def mcp_server_schema() -> dict[str, Any]:
    """JSON Schema of one `mcp_servers` entry."""
    from engine.tools.entry_schema import MCP_SERVER

    return MCP_SERVER
