"""What the tools cost per call: the Python sandbox, the calculator, an MCP stdio server.

    python scripts/bench_tools.py [--runs 10]

A measurement, not a test. Prints one JSON object (milliseconds, medians).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.tools.base import ToolContext
from engine.tools.catalog import build_registry

SERVER = Path(__file__).resolve().parent.parent / "tests/engine/tools/mcp_notes_server.py"
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"


def median_ms(call: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="aw-bench-tools-") as folder:
        print(json.dumps(measure(Path(folder), runs)))


def measure(workspace: Path, runs: int) -> dict[str, Any]:
    ctx = ToolContext(workspace=workspace)
    out: dict[str, Any] = {}
    entries = [
        {"name": "python", "approval": "auto", "settings": {"timeout_s": 3}},
        {"name": "calculator"},
    ]
    with build_registry(entries, workspace=workspace) as reg:
        out["python_print_ms"] = median_ms(
            lambda: reg.call("python", {"code": "print(1)"}, context=ctx), runs
        )
        out["python_fork_bomb_3s_limit_ms"] = median_ms(
            lambda: reg.call("python", {"code": FORK_BOMB}, context=ctx), 3
        )
        out["calculator_ms"] = median_ms(
            lambda: reg.call("calculator", {"expression": "(17+5)*3/sqrt(2)"}, context=ctx),
            runs * 10,
        )
    server = {"name": "notes", "command": [sys.executable, str(SERVER), "stdio"]}
    start = time.perf_counter()
    mcp = build_registry([], [server | {"approval": "auto"}], workspace=workspace, trust=True)
    out["mcp_stdio_connect_ms"] = round((time.perf_counter() - start) * 1000, 1)
    out["mcp_stdio_call_ms"] = median_ms(
        lambda: mcp.call("notes.list_notes", {}, context=ctx), runs * 5
    )
    start = time.perf_counter()
    mcp.close()
    out["mcp_close_ms"] = round((time.perf_counter() - start) * 1000, 1)
    return out


if __name__ == "__main__":
    main()
