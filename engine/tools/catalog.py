"""An agent's tool catalogue, built from the tool and MCP entries of its agent file.

Entries arrive as parsed YAML (dicts) and are checked first, all of them, against their
one definition (`engine.tools.entries`): anything wrong raises a `ToolConfigError` naming
the entry and the field, before anything starts. Command tools and MCP servers (stdio: a
program on this machine; http: a connection to the address the file names) need
`trust=True` (`entries.trust_items`, kinds command and mcp). Then each entry becomes a `Tool`:
built-ins here, command tools in `command`, MCP servers' tools (`<server>.<tool>`) in
`mcp_client`. This module sits on top of the tools package: nothing in it imports this.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from engine.tools.base import Tool, ToolError, ToolRegistry
from engine.tools.command import build_command_tool
from engine.tools.entries import (
    BUILTINS,
    RESERVED_NAMES,
    config_error,
    problems,
    trust_items,
    untrusted_message,
    where,
)
from engine.tools.errors import ToolConfigError, ToolSettingsError, UntrustedToolsError
from engine.tools.mcp_client import attach_servers

__all__ = ["BUILTINS", "RESERVED_NAMES", "build_builtin", "build_registry"]

#: The trust items building the catalogue itself acts on (it starts each command and MCP
#: server); the run refuses every other item of an untrusted agent file before this.
_STARTED = ("command", "mcp")


def build_builtin(entry: Mapping[str, Any], workspace: Path, label: str) -> Tool:
    """One built-in tool from its entry (one that `entries.problems` accepts)."""
    spec = BUILTINS[entry["name"]]
    try:
        tool = spec.factory(entry.get("settings") or {}, workspace)
    except ToolError as exc:
        raise ToolSettingsError(f"{label}: field 'settings': {exc}") from exc
    tool.approval = entry.get("approval", spec.approval)
    return tool


def build_registry(
    tools: Sequence[Mapping[str, Any]],
    mcp_servers: Sequence[Mapping[str, Any]] = (),
    *,
    workspace: Path,
    trust: bool = False,
    extra: Sequence[Tool] = (),
) -> ToolRegistry:
    """The registry of an agent; close it (or use `with`) to stop its MCP servers."""
    found = problems(tools, mcp_servers)
    if found:
        raise config_error(found[0], {"tools": tools, "mcp_servers": mcp_servers})
    started = [i for i in trust_items(tools, mcp_servers) if i.kind in _STARTED]
    if started and not trust:
        lead = "this agent file runs programs or connects to servers when its tools are built"
        raise UntrustedToolsError(untrusted_message(started, lead), started)
    registry = ToolRegistry()
    supplied = {tool.name: tool for tool in extra}
    try:
        for index, entry in enumerate(tools):
            label = where(entry, index)
            if entry.get("kind") == "command":
                _add(registry, build_command_tool(entry), label)
            elif entry["name"] in RESERVED_NAMES:
                tool = _reserved(entry, supplied, label)
                _add(registry, tool, label)
                supplied.pop(tool.name)
            else:
                _add(registry, build_builtin(entry, workspace, label), label)
        if mcp_servers:
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
    return dataclasses.replace(tool, approval=entry.get("approval", tool.approval))


def _add(registry: ToolRegistry, tool: Tool, label: str) -> None:
    """The run's own tools (`extra`) can still meet a name the entries use."""
    if tool.name in registry:
        raise ToolConfigError(f"{label}: a tool named {tool.name!r} is already in the catalogue")
    try:
        registry.add(tool)
    except (ValueError, jsonschema.SchemaError) as exc:
        raise ToolConfigError(f"{label}: {exc}") from exc
