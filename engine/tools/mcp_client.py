"""MCP servers as tool sources: their tools join the catalogue as `<server>.<tool>`.

Checks the `mcp_servers` entries of an agent file (errors name the entry and field),
connects through an `MCPHub` whose closing the registry owns, and wraps each tool the
server lists as a `Tool`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.tools.base import Tool, ToolContext, ToolRegistry
from engine.tools.command import CONTEXT
from engine.tools.errors import MCPServerError, ToolSettingsError
from engine.tools.mcp_hub import MCPHub, command_of, result_of

DEFAULT_TIMEOUT_S = 30.0
FIELDS = {
    "stdio": ("name", "transport", "command", "env", "cwd", "approval", "timeout_s"),
    "http": ("name", "transport", "url", "headers", "approval", "timeout_s"),
}


def _check(entry: Mapping[str, Any], label: str) -> str:
    transport = entry.get("transport", "stdio")
    if transport not in FIELDS:
        raise ToolSettingsError(f"{label}: field 'transport' is {transport!r}; use stdio or http")
    unknown = sorted(set(entry) - set(FIELDS[transport]))
    if unknown:
        allowed = ", ".join(FIELDS[transport])
        raise ToolSettingsError(f"{label}: unknown field {unknown[0]!r}; {transport} has {allowed}")
    name = str(entry["name"])
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ToolSettingsError(
            f"{label}: field 'name' may hold only letters, digits, '-' and '_' "
            "(its tools are named <name>.<tool>)"
        )
    if transport == "stdio":
        command = entry.get("command")
        good = isinstance(command, str) or (
            isinstance(command, list) and all(isinstance(a, str) for a in command)
        )
        if not good or not command_of(entry):
            raise ToolSettingsError(f"{label}: field 'command' must be a command line or a list")
        for field in ("env", "headers"):
            _check_strings(entry, field, label)
    else:
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ToolSettingsError(f"{label}: field 'url' must be an http:// or https:// address")
        _check_strings(entry, "headers", label)
    timeout = entry.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolSettingsError(f"{label}: field 'timeout_s' must be a positive number of seconds")
    return transport


def _check_strings(entry: Mapping[str, Any], field: str, label: str) -> None:
    value = entry.get(field)
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ToolSettingsError(f"{label}: field {field!r} must map names to text values")


def _tool(hub: MCPHub, server: Any, spec: Any, approval: Any, timeout: float) -> Tool:
    remote = str(spec.name)
    output_schema = spec.output_schema

    def run(**arguments: Any) -> Any:
        context: ToolContext = arguments.pop(CONTEXT)
        answer = hub.call(server, remote, arguments, timeout, context.cancel)
        return result_of(answer, output_schema)

    schema = dict(spec.input_schema or {"type": "object"})
    schema.setdefault("type", "object")
    return Tool(
        name=f"{server.name}.{remote}",
        description=spec.description or f"{remote} (from the MCP server {server.name})",
        parameters=schema,
        function=run,
        approval=approval,
        timeout_s=timeout + 5.0,
        takes_context=True,
        source=f"mcp:{server.name}",
        context_argument=CONTEXT,
    )


def attach_servers(
    registry: ToolRegistry, servers: Sequence[Mapping[str, Any]], workspace: Path
) -> None:
    """Connect to each server and add its tools; the registry's close() ends them all."""
    from engine.tools.catalog import approval_of, where

    checked = []
    for index, entry in enumerate(servers):
        label = where(entry, index, "mcp_servers")
        _check(entry, label)
        checked.append((label, entry, approval_of(entry, "ask", label)))
    hub = MCPHub()
    registry.on_close(hub.close)
    for label, entry, approval in checked:
        name = str(entry["name"])
        if entry.get("transport", "stdio") == "stdio":
            cwd = workspace / entry["cwd"] if entry.get("cwd") else workspace
            entry = {**entry, "cwd": str(cwd)}
        server = hub.connect(name, entry, label)
        timeout = float(entry.get("timeout_s", DEFAULT_TIMEOUT_S))
        for spec in server.tools:
            tool = _tool(hub, server, spec, approval, timeout)
            if tool.name in registry:
                raise MCPServerError(f"{label}: a tool named {tool.name!r} is already listed")
            try:
                registry.add(tool)
            except Exception as exc:
                raise MCPServerError(f"{label}: its tool {spec.name!r} is unusable: {exc}") from exc
