"""The worker process's side of `engine.tools.worker`: answer JSON-line calls until EOF.

Each request is `{"target": "module:function", "args": [...], "timeout_s": t}`; each
reply is `{"value": v}` or `{"error": text, "kind": "tool" | "timeout" | "failed"}`.
Before each call the process caps its own CPU time at what it has used plus the call's
limit (POSIX `RLIMIT_CPU`): the kernel ends it even inside a C call holding the GIL, and
even if the app that should kill it is gone.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import time
from typing import Any


def _cap_cpu(timeout_s: float) -> None:
    try:
        import resource
    except ImportError:  # Windows: the app's kill is the only stop
        return
    soft = math.ceil(time.process_time()) + math.ceil(timeout_s) + 2
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _kind(exc: BaseException) -> str:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "ToolTimeout" in names:
        return "timeout"
    return "tool" if "ToolError" in names else "failed"


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request; never raises for what the called function does."""
    try:
        module, _, name = str(request["target"]).partition(":")
        function = getattr(importlib.import_module(module), name)
        value = function(*request.get("args", []))
        json.dumps(value)  # a value JSON cannot carry is an error here, not a dead worker
    except Exception as exc:  # noqa: BLE001 - every failure is a reply
        kind = _kind(exc)
        text = str(exc) or type(exc).__name__
        return {
            "error": text if kind != "failed" else f"{type(exc).__name__}: {text}",
            "kind": kind,
        }
    return {"value": value}


def main() -> None:
    """Serve requests from standard input until it closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    for line in stdin:
        request = json.loads(line)
        _cap_cpu(float(request.get("timeout_s", 60)))
        stdout.write(json.dumps(answer(request)).encode("utf-8") + b"\n")
        stdout.flush()
