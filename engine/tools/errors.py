"""Errors in an agent file's tool entries: each names the entry, the field and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import WorkbenchError


class ToolConfigError(WorkbenchError):
    """A tool entry or MCP server entry of an agent file is wrong."""


class UnknownToolError(ToolConfigError):
    """A built-in tool name that does not exist."""


class ToolSettingsError(ToolConfigError):
    """A tool's settings (or another field of its entry) are not what the tool accepts."""


class UntrustedToolsError(ToolConfigError):
    """The agent file reaches beyond its folder (runs commands, connects, ...) and was not
    trusted; `items` are the `entries.TrustItem`s it would need trusted."""

    def __init__(self, message: str, items: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.items = tuple(items)


class MCPServerError(ToolConfigError):
    """An MCP server could not be started, reached or listed."""
