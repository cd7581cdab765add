"""Command tools: a program declared in the agent file, called with JSON on stdin.

The arguments (already valid for the entry's `parameters` schema) are written to the
program's standard input as one JSON object. What it prints on standard output is the
result: JSON when it parses as JSON, text otherwise. A non-zero exit status, a timeout
or output past the cap become error or clipped results the model reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.tools.base import CONTEXT, Tool, ToolContext, ToolError, ToolTimeout
from engine.tools.entries import DEFAULT_TIMEOUT_S, command_line
from engine.tools.process import run_process

MAX_OUTPUT_BYTES = 1_000_000


def result_of(stdout: str) -> Any:
    """JSON when the output is JSON, else the text itself."""
    text = stdout.strip()
    try:
        return json.loads(text) if text else "(no output)"
    except ValueError:
        return stdout.rstrip()


def build_command_tool(entry: Mapping[str, Any]) -> Tool:
    """The tool for one `kind: command` entry that `entries.problems` accepts (approval
    `ask` unless the entry says)."""
    argv = command_line(entry)
    parameters = dict(entry.get("parameters") or {"type": "object", "properties": {}})
    timeout = float(entry.get("timeout_s", DEFAULT_TIMEOUT_S))
    cwd_field = entry.get("cwd")
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
        description=entry["description"].strip(),
        parameters=parameters,
        function=run,
        approval=entry.get("approval", "ask"),
        timeout_s=timeout + 5.0,
        takes_context=True,
        context_argument=CONTEXT,
        source="command",
    )
