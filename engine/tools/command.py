"""Command tools: a program declared in the agent file, called with JSON on stdin.

The arguments (already valid for the entry's `parameters` schema) are written to the
program's standard input as one JSON object. What it prints on standard output is the
result: JSON when it parses as JSON, text otherwise. A non-zero exit status, a timeout
or output past the cap become error or clipped results the model reads.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.tools.base import Tool, ToolContext, ToolError, ToolTimeout
from engine.tools.catalog import approval_of
from engine.tools.errors import ToolSettingsError
from engine.tools.process import run_process

DEFAULT_TIMEOUT_S = 30.0
#: The keyword the run's context arrives in (the tool's own arguments may say "context").
CONTEXT = "__workbench_context__"
MAX_OUTPUT_BYTES = 1_000_000
FIELDS = ("name", "kind", "description", "parameters", "command", "timeout_s", "approval", "cwd")


def _argv(entry: Mapping[str, Any], label: str) -> list[str]:
    command = entry.get("command")
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ToolSettingsError(f"{label}: field 'command': {exc}") from exc
    elif isinstance(command, list) and all(isinstance(a, str) for a in command):
        argv = list(command)
    else:
        raise ToolSettingsError(
            f"{label}: field 'command' must be a command line (text) or a list of strings"
        )
    if not argv:
        raise ToolSettingsError(f"{label}: field 'command' is empty")
    return argv


def _checked(entry: Mapping[str, Any], label: str) -> tuple[str, dict[str, Any], float]:
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise ToolSettingsError(
            f"{label}: unknown field {unknown[0]!r}; a command tool has {', '.join(FIELDS)}"
        )
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ToolSettingsError(
            f"{label}: field 'description' is required: say what the tool does for the model"
        )
    parameters = entry.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, Mapping) or parameters.get("type") != "object":
        raise ToolSettingsError(
            f"{label}: field 'parameters' must be a JSON Schema with type: object"
        )
    timeout = entry.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolSettingsError(f"{label}: field 'timeout_s' must be a positive number of seconds")
    return description.strip(), dict(parameters), float(timeout)


def result_of(stdout: str) -> Any:
    """JSON when the output is JSON, else the text itself."""
    text = stdout.strip()
    try:
        return json.loads(text) if text else "(no output)"
    except ValueError:
        return stdout.rstrip()


def build_command_tool(entry: Mapping[str, Any], workspace: Path, label: str) -> Tool:
    """The tool for one `kind: command` entry (approval `ask` unless the entry says)."""
    description, parameters, timeout = _checked(entry, label)
    argv = _argv(entry, label)
    cwd_field = entry.get("cwd")
    if cwd_field is not None and not isinstance(cwd_field, str):
        raise ToolSettingsError(f"{label}: field 'cwd' must be a folder path")
    name = str(entry["name"])

    def run(**arguments: Any) -> Any:
        context: ToolContext = arguments.pop(CONTEXT)
        cwd = (context.workspace / cwd_field) if cwd_field else context.workspace
        if not cwd.is_dir():
            raise ToolError(f"the working folder {cwd} of {name!r} does not exist")
        try:
            done = run_process(
                argv,
                stdin=json.dumps(arguments).encode(),
                cwd=cwd,
                env=None,
                timeout_s=timeout,
                max_output_bytes=MAX_OUTPUT_BYTES,
                cancel=context.cancel,
            )
        except OSError as exc:
            raise ToolError(f"could not start {argv[0]!r}: {exc.strerror or exc}") from exc
        if done.timed_out:
            raise ToolTimeout(f"{name!r} did not finish within {timeout:g} s and was stopped")
        if done.cancelled:
            raise ToolError(f"{name!r} was cancelled")
        if done.returncode != 0:
            detail = (done.stderr.strip() or done.stdout.strip())[-2000:]
            raise ToolError(f"{name!r} failed with exit status {done.returncode}: {detail}")
        if done.stdout_dropped:
            return f"{done.stdout}\n[{done.stdout_dropped} more bytes of output cut]"
        return result_of(done.stdout)

    return Tool(
        name=name,
        description=description,
        parameters=parameters,
        function=run,
        approval=approval_of(entry, "ask", label),
        timeout_s=timeout + 5.0,
        takes_context=True,
        context_argument=CONTEXT,
        source="command",
    )
