"""A tool is a name, a description, a JSON Schema for its arguments, and a function.

Every call goes through `ToolRegistry.call`, which always returns a `ToolResult`: an
unknown tool, arguments that do not match the schema, a refusal, a timeout or an exception
inside the tool become an error result the model can read, never an exception in the run
loop. A tool reports a failure the model should see by raising `ToolError`.
"""

from __future__ import annotations

import copy
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jsonschema

from engine.progress import CancelToken
from engine.tools.signature import schema_from_function

ApprovalPolicy = Literal["auto", "ask", "deny"]
APPROVAL_POLICIES: tuple[ApprovalPolicy, ...] = ("auto", "ask", "deny")

#: What went wrong, when a call did not succeed.
ErrorKind = Literal["unknown_tool", "invalid_arguments", "refused", "timeout", "failed"]

#: The keyword the run's context reaches command and MCP tools in (their own arguments
#: may say "context").
CONTEXT = "__workbench_context__"

#: Longest output handed back to the model; the rest is cut with a note saying so.
MAX_OUTPUT_CHARS = 4000


class ToolError(Exception):
    """Raised inside a tool: the call failed for a reason the model should read."""


class ToolTimeout(ToolError):
    """Raised inside a tool that enforces its own time limit (a process it killed)."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know about the run that calls it."""

    workspace: Path
    cancel: CancelToken | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolCallRequest:
    """A call about to happen, as the approval hook sees it."""

    tool: Tool
    arguments: dict[str, Any]


#: Decides whether a call may run: True to run it, False (or a reason string) to refuse.
BeforeCall = Callable[[ToolCallRequest], "bool | str"]


@dataclass(frozen=True)
class ToolResult:
    tool: str
    arguments: dict[str, Any]
    ok: bool
    output: str
    data: Any = None
    error_kind: ErrorKind | None = None
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "arguments": self.arguments,
            "ok": self.ok,
            "output": self.output,
            "error_kind": self.error_kind,
            "duration_s": round(self.duration_s, 6),
        }


@dataclass
class Tool:
    """One entry of the catalogue.

    `function` is called with the validated arguments as keywords, plus `context=` when
    `takes_context` is true. It returns text, or JSON-able data shown to the model as JSON.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    approval: ApprovalPolicy = "auto"
    timeout_s: float | None = 30.0
    takes_context: bool = False
    source: str = "builtin"
    #: The keyword the context is passed as (tools whose arguments may use "context").
    context_argument: str = "context"
    #: Argument grammars (engine.tools.written): per argument, JSON Schema keywords the
    #: step grammar adds at step time (a pattern, an enum of workspace paths).
    written: Callable[[], dict[str, dict[str, Any]]] | None = None
    #: One line on how to call the tool well, shown in the tool manual.
    hint: str = ""

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        **options: Any,
    ) -> Tool:
        """Name, description and argument schema from a typed function and its docstring."""
        doc, parameters = schema_from_function(function, skip=("context",))
        takes_context = "context" in inspect.signature(function).parameters
        return cls(
            name=name or function.__name__,
            description=description or doc,
            parameters=parameters,
            function=function,
            takes_context=takes_context,
            **options,
        )

    def manual(self) -> str:
        """The tool's user manual for the prompt: what it does and each argument."""
        lines = [f"{self.name}: {self.description}"]
        props: dict[str, Any] = self.parameters.get("properties", {})
        required = set(self.parameters.get("required", []))
        for arg, spec in props.items():
            kind = spec.get("type", "any")
            if "enum" in spec:
                kind = " | ".join(json.dumps(v) for v in spec["enum"])
            need = "required" if arg in required else "optional"
            text = spec.get("description", "")
            lines.append(f"  - {arg} ({kind}, {need}){': ' + text if text else ''}")
        if not props:
            lines.append("  (no arguments)")
        if self.hint:
            lines.append(f"  Usage: {self.hint}")
        return "\n".join(lines)

    def grammar_schema(self) -> dict[str, Any]:
        """The argument schema with the argument grammars merged in (for the step grammar)."""
        schema = copy.deepcopy(self.parameters)
        if self.written is None:
            return schema
        props = schema.get("properties", {})
        for name, keywords in self.written().items():
            if isinstance(props.get(name), dict):
                props[name].update(keywords)
        return schema


def _as_output(value: Any) -> tuple[str, Any]:
    if value is None:
        return "(no output)", None
    if isinstance(value, str):
        return value, None
    try:
        return json.dumps(value, ensure_ascii=False, default=str), value
    except (TypeError, ValueError):
        return str(value), None


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    cut = len(text) - MAX_OUTPUT_CHARS
    return f"{text[:MAX_OUTPUT_CHARS]}\n[... {cut} more characters cut]"


class ToolRegistry:
    """The catalogue of an agent: tools by name, validation and safe dispatch."""

    def __init__(self, tools: list[Tool] | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        self._closers: list[Callable[[], None]] = []
        for tool in tools or []:
            self.add(tool)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer` when the registry closes (MCP sessions, server processes)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Release what the tools hold open; safe to call twice."""
        closers, self._closers = self._closers[::-1], []
        failure: Exception | None = None
        for closer in closers:
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - close the rest, then raise the first
                failure = failure or exc
        if failure is not None:
            raise failure

    def __enter__(self) -> ToolRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        if tool.approval not in APPROVAL_POLICIES:
            raise ValueError(f"tool {tool.name!r}: approval must be one of {APPROVAL_POLICIES}")
        jsonschema.Draft202012Validator.check_schema(tool.parameters)
        self._tools[tool.name] = tool

    def remove(self, name: str) -> None:
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def callable_tools(self) -> list[Tool]:
        """Tools the model may call (a `deny` tool is not offered at all)."""
        return [t for t in self._tools.values() if t.approval != "deny"]

    def validate(self, name: str, arguments: Any) -> list[str]:
        """Problems with a call, as messages for the model; empty when the call is valid."""
        tool = self._tools.get(name)
        if tool is None:
            return [f"unknown tool {name!r}; known tools: {', '.join(self.names) or 'none'}"]
        if not isinstance(arguments, dict):
            return ["arguments must be a JSON object"]
        validator = jsonschema.Draft202012Validator(tool.parameters)
        return [
            f"{'/'.join(str(p) for p in err.absolute_path) or 'arguments'}: {err.message}"
            for err in sorted(validator.iter_errors(arguments), key=str)
        ]

    def call(
        self,
        name: str,
        arguments: Any,
        *,
        context: ToolContext,
        before_call: BeforeCall | None = None,
    ) -> ToolResult:
        start = time.monotonic()
        args = arguments if isinstance(arguments, dict) else {}

        def fail(kind: ErrorKind, message: str) -> ToolResult:
            return ToolResult(name, args, False, message, None, kind, time.monotonic() - start)

        problems = self.validate(name, arguments)
        tool = self._tools.get(name)
        if tool is None:
            return fail("unknown_tool", problems[0])
        if problems:
            return fail("invalid_arguments", "invalid arguments: " + "; ".join(problems))
        if tool.approval == "deny":
            return fail("refused", f"the tool {name!r} is not allowed for this agent")
        if tool.approval == "ask":
            verdict = before_call(ToolCallRequest(tool, args)) if before_call else False
            if verdict is not True:
                why = verdict if isinstance(verdict, str) and verdict else "the person refused"
                return fail("refused", f"call to {name!r} refused: {why}")
        return self._run(tool, args, context, start)

    def _run(
        self, tool: Tool, args: dict[str, Any], context: ToolContext, start: float
    ) -> ToolResult:
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                kwargs = dict(args)
                if tool.takes_context:
                    kwargs[tool.context_argument] = context
                box["value"] = tool.function(**kwargs)
            except ToolTimeout as exc:
                box["timeout"] = str(exc) or f"{tool.name!r} ran out of time"
            except ToolError as exc:
                box["error"] = str(exc) or type(exc).__name__
            except Exception as exc:  # noqa: BLE001 - a broken tool must not end the run
                box["error"] = f"{type(exc).__name__}: {exc}"

        worker = threading.Thread(target=target, name=f"aw-tool-{tool.name}", daemon=True)
        worker.start()
        worker.join(tool.timeout_s)
        took = time.monotonic() - start
        if worker.is_alive():
            message = f"{tool.name!r} did not finish within {tool.timeout_s:g} s"
            return ToolResult(tool.name, args, False, message, None, "timeout", took)
        if "timeout" in box:
            return ToolResult(tool.name, args, False, _clip(box["timeout"]), None, "timeout", took)
        if "error" in box:
            return ToolResult(tool.name, args, False, _clip(box["error"]), None, "failed", took)
        output, data = _as_output(box.get("value"))
        return ToolResult(tool.name, args, True, _clip(output), data, None, took)
