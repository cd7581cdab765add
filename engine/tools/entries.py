"""What the `tools` and `mcp_servers` entries of an agent file may say: the one definition.

A `tools` entry is a built-in (`{name, kind?: builtin, approval?, settings?}`, its settings
checked by that tool's own settings schema), a memory tool (`{name, approval?}`, supplied
by the run when memory is on) or a command tool (`{name, kind: command, description,
parameters?, command, timeout_s?, approval?, cwd?}`). An `mcp_servers` entry is a stdio
server (`{name, transport?: stdio, command, env?, cwd?, approval?, timeout_s?}`) or an
http one (`{name, transport: http, url, headers?, approval?, timeout_s?}`).

`definitions()` is that, as JSON Schema `$defs` (the agent file's schema is built with
them). `problems()` checks entries against it with jsonschema, then checks what a schema
cannot say (a command line that does not split, a duplicate name, a tool name in an MCP
server's name space, a memory tool with memory off): everything the catalogue would refuse
before it starts anything. `trust_items()` lists what the entries do beyond the agent's
workspace (run a program, connect, write or run code without asking, reach the network):
what trusting the file accepts.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from engine import schema_problems
from engine.schema_problems import Problem, field_name
from engine.tools import calculator, clock, files, http_get, python_tool
from engine.tools.base import APPROVAL_POLICIES, ToolError
from engine.tools.builtin import BuiltinSpec
from engine.tools.errors import ToolConfigError, ToolSettingsError, UnknownToolError

#: Every built-in tool by name: description, settings JSON Schema, default approval.
BUILTINS: dict[str, BuiltinSpec] = {
    spec.name: spec
    for spec in (calculator.SPEC, python_tool.SPEC, *files.SPECS, clock.SPEC, http_get.SPEC)
}
#: The memory tools: an agent file lists them, the run supplies them when memory is on.
RESERVED_NAMES = ("memory.search", "memory.save", "documents.search")
#: Seconds a command tool or an MCP server's tool may take unless the entry says.
DEFAULT_TIMEOUT_S = 30.0

_REF = "#/$defs/"
_TIMEOUT = {
    "type": "number",
    "exclusiveMinimum": 0,
    "default": DEFAULT_TIMEOUT_S,
    "x-message": "must be a positive number of seconds",
}
_STRINGS = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "x-message": "must map names to text values",
}
_COMMAND = {
    "type": ["string", "array"],
    "minLength": 1,
    "minItems": 1,
    "items": {"type": "string"},
    "x-message": {
        "*": "must be a command line (text) or a list of strings",
        "minLength": "is empty",
        "minItems": "is empty",
    },
}
_CWD = {
    "type": "string",
    "description": "Working folder, relative to the workspace.",
    "x-message": "must be a folder path",
}
_MAPPING = {"type": "each entry must be a mapping"}


def _builtin(spec: BuiltinSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "description": spec.description,
        "properties": {
            "name": {"const": spec.name},
            "kind": {"const": "builtin"},
            "approval": {"$ref": _REF + "approval", "default": spec.approval},
            "settings": spec.settings_schema,
        },
        "additionalProperties": False,
        "x-unknown": "put tool options under 'settings'",
    }


def _when(field: str, value: Any, then: str) -> dict[str, Any]:
    test = {"const": value} if not isinstance(value, list) else {"enum": value}
    return {"if": {"required": [field], "properties": {field: test}}, "then": {"$ref": _REF + then}}


@functools.cache
def definitions() -> dict[str, Any]:
    """JSON Schema `$defs` of the entries: `tool` and `mcp_server` (and the ones they use)."""
    known = ", ".join(sorted(BUILTINS))
    defs: dict[str, Any] = {
        "approval": {"enum": list(APPROVAL_POLICIES)},
        "tool_name": {
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_.-]{0,63}$",
            "x-message": "must be a letter or '_', then letters, digits, '_', '.' or '-' "
            "(at most 64)",
        },
        "tool": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"$ref": _REF + "tool_name"},
                "kind": {
                    "enum": ["builtin", "command"],
                    "x-message": "is {value!r}; use builtin or command",
                },
            },
            "if": {"required": ["kind"], "properties": {"kind": {"const": "command"}}},
            "then": {"$ref": _REF + "command_tool"},
            "else": {"$ref": _REF + "builtin_tool"},
            "x-message": _MAPPING,
        },
        "builtin_tool": {
            "properties": {
                "name": {
                    "enum": [*BUILTINS, *RESERVED_NAMES],
                    "x-message": "names no built-in tool {value!r} (built-ins: "
                    + known
                    + "; a tool of your own needs 'kind: command' and a 'command')",
                }
            },
            "allOf": [
                *(_when("name", name, f"builtin.{name}") for name in BUILTINS),
                _when("name", list(RESERVED_NAMES), "memory_tool"),
            ],
        },
        "memory_tool": {
            "type": "object",
            "description": "A memory tool, supplied by the run when memory is on.",
            "properties": {
                "name": {"enum": list(RESERVED_NAMES)},
                "kind": {"const": "builtin"},
                "approval": {"$ref": _REF + "approval"},
            },
            "additionalProperties": False,
            "x-unknown": "the memory tools take no settings",
        },
        "command_tool": {
            "type": "object",
            "description": "A program of your own: JSON arguments on stdin, JSON or text out.",
            "required": ["name", "kind", "description", "command"],
            "properties": {
                "name": {"$ref": _REF + "tool_name"},
                "kind": {"const": "command"},
                "description": {
                    "type": "string",
                    "pattern": "\\S",
                    "x-message": "is required: say what the tool does for the model",
                },
                "parameters": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"const": "object"}},
                    "default": {"type": "object", "properties": {}},
                    "x-message": "must be a JSON Schema with type: object",
                },
                "command": _COMMAND,
                "timeout_s": _TIMEOUT,
                "approval": {"$ref": _REF + "approval", "default": "ask"},
                "cwd": _CWD,
            },
            "additionalProperties": False,
        },
        "mcp_server": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_-]+$",
                    "x-message": "may hold only letters, digits, '-' and '_' "
                    "(its tools are named <name>.<tool>)",
                },
                "transport": {
                    "enum": ["stdio", "http"],
                    "default": "stdio",
                    "x-message": "is {value!r}; use stdio or http",
                },
            },
            "if": {"required": ["transport"], "properties": {"transport": {"const": "http"}}},
            "then": {"$ref": _REF + "mcp_http"},
            "else": {"$ref": _REF + "mcp_stdio"},
            "x-message": _MAPPING,
        },
        "mcp_stdio": {
            "type": "object",
            "description": "An MCP server this machine starts (it runs a command).",
            "required": ["name", "command"],
            "properties": {
                "name": True,
                "transport": {"const": "stdio"},
                "command": _COMMAND,
                "env": _STRINGS,
                "cwd": _CWD,
                "approval": {"$ref": _REF + "approval", "default": "ask"},
                "timeout_s": _TIMEOUT,
            },
            "additionalProperties": False,
        },
        "mcp_http": {
            "type": "object",
            "description": "An MCP server reached over streamable HTTP.",
            "required": ["name", "transport", "url"],
            "properties": {
                "name": True,
                "transport": {"const": "http"},
                "url": {
                    "type": "string",
                    "pattern": "^https?://",
                    "x-message": "must be an http:// or https:// address",
                },
                "headers": _STRINGS,
                "approval": {"$ref": _REF + "approval", "default": "ask"},
                "timeout_s": _TIMEOUT,
            },
            "additionalProperties": False,
        },
    }
    for name, spec in BUILTINS.items():
        defs[f"builtin.{name}"] = _builtin(spec)
    return defs


@functools.cache
def _schema() -> dict[str, Any]:
    """The two lists alone, as the agent file holds them."""
    return {
        "type": "object",
        "properties": {
            "tools": {"type": "array", "items": {"$ref": _REF + "tool"}},
            "mcp_servers": {"type": "array", "items": {"$ref": _REF + "mcp_server"}},
        },
        "$defs": definitions(),
    }


def problems(
    tools: Sequence[Any], mcp_servers: Sequence[Any] = (), *, memory: bool | None = None
) -> list[Problem]:
    """Everything wrong with the entries, paths from the agent file's top (`tools`, 0, ...).

    `memory`: whether the agent's memory is on (listing a memory tool needs it); None when
    the caller supplies the memory tools itself.
    """
    data = {"tools": list(tools), "mcp_servers": list(mcp_servers)}
    return schema_problems.problems(_schema(), data) or _beyond_schema(data, memory)


def _beyond_schema(data: dict[str, list[Any]], memory: bool | None) -> list[Problem]:
    """The checks a JSON Schema cannot express, on entries the schema accepts."""
    found: list[Problem] = []

    def problem(path: tuple[str | int, ...], message: str, worded: bool = True) -> None:
        found.append(Problem(path, message, keyword="check", worded=worded))

    servers: dict[str, int] = {}
    for index, server in enumerate(data["mcp_servers"]):
        where = ("mcp_servers", index)
        if server["name"] in servers:
            first = servers[server["name"]]
            problem((*where, "name"), f"names a server already listed (mcp_servers[{first}])")
        servers.setdefault(server["name"], index)
        if server.get("transport", "stdio") == "stdio":
            _command_problem(server, where, problem)
    tools: dict[str, int] = {}
    for index, entry in enumerate(data["tools"]):
        where, name = ("tools", index), entry["name"]
        if name in tools:
            problem(
                (*where, "name"),
                f"names a tool already in the catalogue (tools[{tools[name]}] {name!r})",
            )
        tools.setdefault(name, index)
        prefix = name.split(".", 1)[0]
        if "." in name and prefix in servers:
            problem(
                (*where, "name"),
                f"is in the name space of the MCP server {prefix!r} "
                f"(mcp_servers[{servers[prefix]}]), whose tools are named {prefix}.<tool>",
            )
        if entry.get("kind") == "command":
            _command_problem(entry, where, problem)
            try:
                jsonschema.Draft202012Validator.check_schema(entry.get("parameters", {}))
            except jsonschema.SchemaError as exc:
                problem((*where, "parameters"), f"is not a valid JSON Schema: {exc.message}")
        elif name in RESERVED_NAMES:
            if memory is False:
                problem(
                    (*where, "name"),
                    "names a memory tool, and the agent's memory is off: turn memory on "
                    "(memory.enabled: true) or remove this tool",
                )
        elif BUILTINS[name].check is not None:
            try:
                BUILTINS[name].check(entry.get("settings") or {})  # type: ignore[misc]
            except ToolError as exc:
                problem((*where, "settings"), str(exc), worded=False)
    return found


def _command_problem(entry: Mapping[str, Any], where: tuple[str | int, ...], problem: Any) -> None:
    try:
        if not command_line(entry):
            problem((*where, "command"), "is empty")
    except ValueError as exc:
        problem((*where, "command"), f"cannot be split into words: {exc}")


def command_line(entry: Mapping[str, Any]) -> list[str]:
    """The argv of a command tool or stdio server entry (text is split like a shell does)."""
    command = entry.get("command")
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command or []]


def where(entry: Any, index: int, section: str = "tools") -> str:
    """How an entry is named in the catalogue's messages: `tools[2] 'weather'`."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return f"{section}[{index}]" + (f" {name!r}" if isinstance(name, str) else "")


def config_error(problem: Problem, data: Mapping[str, Sequence[Any]]) -> ToolConfigError:
    """`problem` as the catalogue raises it: `tools[0] 'clock': field 'approval': ...`."""
    section, index, *rest = problem.path
    label = where(data[str(section)][int(index)], int(index), str(section))
    field = field_name(tuple(rest))
    if problem.keyword == "additionalProperties":
        text = f"unknown field {field!r}" + (f"; {problem.allowed}" if problem.allowed else "")
    elif problem.keyword == "required" and problem.key:
        text = f"field {problem.key!r} is missing"
    elif not rest:
        text = problem.message
    elif problem.worded:
        text = f"field {field!r} {problem.message}"
    else:
        allowed = f" ({problem.allowed})" if problem.allowed else ""
        text = f"field {field!r}: {problem.message}{allowed}"
    kind: type[ToolConfigError] = ToolSettingsError
    if section == "tools" and rest == ["name"] and problem.keyword == "enum":
        kind = UnknownToolError
    elif not rest or problem.key == "name" or (problem.keyword == "check" and rest == ["name"]):
        kind = ToolConfigError
    return kind(f"{label}: {text}")


@dataclass(frozen=True)
class TrustItem:
    """One thing an agent file does that reaches beyond its own folder, which a person
    accepts by trusting the file: `kind` (one of TRUST_KINDS), `what` (the setting, as the
    file names it) and `why` (what it allows), read together as one line (`text`)."""

    kind: str
    what: str
    why: str

    @property
    def text(self) -> str:
        """`files.write may write without asking (approval: auto)`."""
        return f"{self.what} {self.why}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "what": self.what, "why": self.why, "text": self.text}


#: The kinds of trust items, in the order they are listed.
TRUST_KINDS = ("workspace", "document", "command", "mcp", "approval", "network", "hosts")


def _command(entry: Mapping[str, Any]) -> str:
    """The command as one line of text, as the file writes it."""
    command = entry.get("command")
    return command if isinstance(command, str) else " ".join(str(a) for a in command or ())


def _approval(entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    default = BUILTINS[name].approval if name in BUILTINS else "ask"
    return str(entry.get("approval", default))


def trust_items(
    tools: Sequence[Mapping[str, Any]], mcp_servers: Sequence[Mapping[str, Any]] = ()
) -> list[TrustItem]:
    """What the entries do beyond the agent's workspace, each a `TrustItem`: a command tool
    or an MCP server (any transport: a stdio one runs a program here, an http one connects
    to its address as soon as the tool list is built), `files.write` or `python` that run
    without asking (`approval: auto`), `python` with the network, `http.get` and the hosts
    it may fetch from. A tool that is denied never runs, so its settings are not listed."""
    found: list[TrustItem] = []
    for t in tools:
        name = str(t.get("name"))
        if t.get("kind") == "command":
            found.append(TrustItem("command", f"command tool {name}", f"runs `{_command(t)}`"))
            continue
        approval, settings = _approval(t), t.get("settings") or {}
        if approval == "deny":
            continue
        if name in ("files.write", "python") and approval == "auto":
            does = "write files" if name == "files.write" else "run code"
            found.append(TrustItem("approval", name, f"may {does} without asking (approval: auto)"))
        if name == "python" and settings.get("network"):
            found.append(TrustItem("network", name, "may use the network (network: true)"))
        if name == "http.get" and settings.get("allow_hosts"):
            hosts = ", ".join(str(h) for h in settings["allow_hosts"])
            found.append(TrustItem("hosts", name, f"may fetch from {hosts}"))
    for s in mcp_servers:
        name = str(s.get("name"))
        if s.get("transport", "stdio") == "http":
            what, why = f"MCP server {name} (http)", f"connects to {s.get('url')}"
        else:
            what, why = f"MCP server {name} (stdio)", f"runs `{_command(s)}`"
        found.append(TrustItem("mcp", what, why))
    return sorted(found, key=lambda item: TRUST_KINDS.index(item.kind))


def untrusted_message(items: Sequence[TrustItem], lead: str) -> str:
    """The refusal naming each item and how to trust the file."""
    lines = "".join(f"\n  - {item.text}" for item in items)
    return (
        f"{lead}, and it was not trusted:{lines}\n"
        "run it with --trust if you trust the file (in the window: tick each item of the "
        "trust question)"
    )
