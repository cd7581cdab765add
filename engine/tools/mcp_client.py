"""MCP servers as tool sources: their tools join the catalogue as `<server>.<tool>`.

Takes the `mcp_servers` entries of an agent file (checked by `engine.tools.entries`),
connects through an `MCPHub` whose closing the registry owns, and wraps each tool the
server lists as a `Tool`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.tools.base import CONTEXT, Tool, ToolContext, ToolRegistry
from engine.tools.entries import DEFAULT_TIMEOUT_S, where
from engine.tools.errors import MCPServerError
from engine.tools.mcp_hub import MCPHub, result_of


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
    """Connect to each server (entries `entries.problems` accepts) and add its tools; the
    registry's close() ends them all."""
    hub = MCPHub()
    registry.on_close(hub.close)
    for index, entry in enumerate(servers):
        label = where(entry, index, "mcp_servers")
        approval = entry.get("approval", "ask")
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
