"""The `python` built-in: runs a snippet in the sandbox and shows what it printed."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.tools.base import Tool, ToolContext, ToolError, ToolTimeout
from engine.tools.builtin import BuiltinSpec
from engine.tools.process import Finished
from engine.tools.sandbox import Limits, SandboxRefused, kept_scratch, run_python

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 10},
        "memory_mb": {"type": "integer", "minimum": 64, "maximum": 65536, "default": 512},
        "max_processes": {"type": "integer", "minimum": 1, "maximum": 256, "default": 16},
        "max_output_bytes": {"type": "integer", "minimum": 1000, "default": 100000},
        "network": {
            "type": "boolean",
            "default": False,
            "description": "let the program use the network (off: a network namespace with "
            "no interface, where Linux allows it)",
        },
        "scratch": {
            "enum": ["workspace", "temp"],
            "default": "workspace",
            "description": "workspace: a private scratch folder kept between calls, one per "
            "workspace (in the data home's sandbox folder, not in the workspace); temp: a new "
            "one for each call, removed after it",
        },
        "tmp_mb": {
            "type": "integer",
            "minimum": 1,
            "maximum": 4096,
            "default": 64,
            "description": "size of the private /tmp, /var/tmp and /dev/shm (together)",
        },
    },
    "additionalProperties": False,
}


def _signal_name(code: int) -> str:
    """The signal behind an exit status: 128+N from the supervisor, -N from Popen."""
    number = code - 128 if code > 128 else -code
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe(done: Finished, limits: Limits) -> str:
    """What the model reads: standard output, then standard error if any."""
    parts = [done.stdout.rstrip("\n")] if done.stdout.strip() else []
    if done.stdout_dropped:
        parts.append(f"[{done.stdout_dropped} more bytes of output cut]")
    if done.stderr.strip():
        parts.append("[stderr]\n" + done.stderr.rstrip("\n")[-3000:])
    if done.returncode and (done.returncode > 128 or done.returncode < 0):
        name = _signal_name(done.returncode)
        why = {"SIGXCPU": "CPU time limit", "SIGXFSZ": "file size limit"}.get(name, "")
        parts.append(f"[killed by {name}{' (' + why + ')' if why else ''}]")
    if "MemoryError" in done.stderr:
        parts.append(f"[the memory limit is {limits.memory_mb} MB]")
    return "\n".join(parts) or "(no output; use print() to show results)"


_CLOSERS = ")]}"


def trim_unmatched_closers(code: str) -> tuple[str, str]:
    """(code, what was removed): brackets closed at the end that were never opened are
    removed when that is what stops the program from compiling. A small model writing
    `{"code": "print(2**40)}"}` closes its JSON inside the string; the program it meant
    is `print(2**40)`. Anything else that does not compile is left for Python to report."""
    try:
        compile(code, "<program>", "exec", dont_inherit=True)
        return code, ""
    except (SyntaxError, ValueError):
        pass
    body = code.rstrip()
    removed = ""
    while body and body[-1] in _CLOSERS:
        removed = body[-1] + removed
        body = body[:-1].rstrip()
        try:
            compile(body, "<program>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        return body + "\n", removed
    return code, ""


def _build(settings: Mapping[str, Any], workspace: Path) -> Tool:
    limits = Limits(
        timeout_s=float(settings.get("timeout_s", 10)),
        memory_mb=int(settings.get("memory_mb", 512)),
        max_processes=int(settings.get("max_processes", 16)),
        max_output_bytes=int(settings.get("max_output_bytes", 100_000)),
        network=bool(settings.get("network", False)),
        tmp_mb=int(settings.get("tmp_mb", 64)),
    )
    keep = settings.get("scratch", "workspace") == "workspace"

    def python(code: str, *, context: ToolContext) -> str:
        """Run Python 3 code in a separate, limited process and return what it prints.

        Only printed output is shown: use print(). The working folder is a private scratch
        folder (kept between calls); the workspace's files are readable, not writable,
        under /workspace. No network unless the tool's settings allow it.

        Args:
            code: a complete Python program
        """
        scratch = kept_scratch(context.workspace) if keep else None
        code, removed = trim_unmatched_closers(code)
        try:
            run = run_python(
                code,
                scratch=scratch,
                workspace=context.workspace,
                limits=limits,
                cancel=context.cancel,
            )
        except SandboxRefused as exc:
            raise ToolError(f"the sandbox refused to run the program: {exc}") from exc
        except OSError as exc:
            raise ToolError(f"could not start Python: {exc}") from exc
        done = run.done
        text = describe(done, limits)
        notice = run.isolation.notice()
        if notice:
            text = f"{notice}\n{text}"
        if removed:
            text = f"{text}\n[ran without the unmatched {removed!r} at the end of the code]"
        if done.timed_out:
            raise ToolTimeout(f"stopped after the time limit of {limits.timeout_s:g} s\n{text}")
        if done.cancelled:
            raise ToolError("cancelled")
        if done.returncode != 0:
            raise ToolError(f"exit status {done.returncode}\n{text}")
        return text

    return Tool.from_function(
        python,
        timeout_s=limits.timeout_s + 15.0,
        hint='a short program that prints its result, e.g. "print(sum(range(1, 11)))"',
    )


SPEC = BuiltinSpec(
    name="python",
    description="Runs Python code in a separate process with time, memory and process limits.",
    factory=_build,
    settings_schema=SETTINGS_SCHEMA,
    approval="ask",
)
