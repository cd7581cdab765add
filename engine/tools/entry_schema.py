"""JSON Schemas of the `tools` and `mcp_servers` entries of an agent file.

For the agent file's own JSON Schema (editors validate with it) and the designer. The
catalogue's checks say the same in words, naming the entry and field.
"""

from __future__ import annotations

from typing import Any

from engine.tools.base import APPROVAL_POLICIES
from engine.tools.builtin import BuiltinSpec

_APPROVAL = {"enum": list(APPROVAL_POLICIES)}
_TIMEOUT = {"type": "number", "exclusiveMinimum": 0}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_COMMAND = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}


def _builtin(spec: BuiltinSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "description": spec.description,
        "properties": {
            "name": {"const": spec.name},
            "kind": {"const": "builtin"},
            "approval": {**_APPROVAL, "default": spec.approval},
            "settings": spec.settings_schema,
        },
        "required": ["name"],
        "additionalProperties": False,
    }


COMMAND_TOOL: dict[str, Any] = {
    "type": "object",
    "description": "A program of your own: JSON arguments on stdin, JSON or text on stdout.",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "kind": {"const": "command"},
        "description": {"type": "string", "minLength": 1},
        "parameters": {"type": "object", "properties": {"type": {"const": "object"}}},
        "command": _COMMAND,
        "timeout_s": _TIMEOUT,
        "approval": {**_APPROVAL, "default": "ask"},
        "cwd": {"type": "string"},
    },
    "required": ["name", "kind", "description", "command"],
    "additionalProperties": False,
}

_SERVER_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}

MCP_SERVER: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "name": _SERVER_NAME,
                "transport": {"const": "stdio"},
                "command": _COMMAND,
                "env": _STRINGS,
                "cwd": {"type": "string"},
                "approval": {**_APPROVAL, "default": "ask"},
                "timeout_s": _TIMEOUT,
            },
            "required": ["name", "command"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "name": _SERVER_NAME,
                "transport": {"const": "http"},
                "url": {"type": "string", "pattern": "^https?://"},
                "headers": _STRINGS,
                "approval": {**_APPROVAL, "default": "ask"},
                "timeout_s": _TIMEOUT,
            },
            "required": ["name", "transport", "url"],
            "additionalProperties": False,
        },
    ]
}


def tool_entry_schema(
    builtins: dict[str, BuiltinSpec], reserved: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One item of the agent file's `tools` list: a built-in, a memory tool or a command."""
    memory = {
        "type": "object",
        "description": "A memory tool, supplied by the run when memory is on.",
        "properties": {"name": {"enum": list(reserved)}, "approval": _APPROVAL},
        "required": ["name"],
        "additionalProperties": False,
    }
    variants = [*(_builtin(spec) for spec in builtins.values()), COMMAND_TOOL]
    return {"anyOf": [*variants, memory] if reserved else variants}
