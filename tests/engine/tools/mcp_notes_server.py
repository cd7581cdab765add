"""A small real MCP server for the tests: `python mcp_notes_server.py stdio|http PORT`.

Built with the official SDK's MCPServer (FastMCP in mcp 1.x). Notes live in memory.
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("notes")
NOTES: list[str] = []


@server.tool()
def add_note(text: str) -> str:
    """Save a note."""
    NOTES.append(text)
    return f"saved note {len(NOTES)}"


@server.tool()
def list_notes() -> str:
    """All saved notes, one per line."""
    return "\n".join(NOTES) or "no notes"


@server.tool()
def stats(numbers: list[float]) -> dict[str, float]:
    """Sum and mean of some numbers."""
    return {"sum": sum(numbers), "mean": sum(numbers) / len(numbers)}


@server.tool()
def whoami() -> str:
    """Where the server runs and what it was given."""
    return f"{os.getcwd()} {os.environ.get('NOTES_TOKEN', '-')}"


@server.tool()
def explode() -> str:
    """Always fails."""
    raise ToolError("the notebook caught fire")


@server.tool()
def nap(seconds: float) -> str:
    """Sleeps."""
    time.sleep(seconds)
    return "rested"


@server.tool()
def crash() -> str:
    """Ends the server process."""
    os._exit(3)


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
