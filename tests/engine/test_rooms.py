"""The engine's rooms keep to their jobs (DESIGN.md): only the CLI talks to the terminal."""

from __future__ import annotations

import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
#: Entry points of child processes that speak over their pipes (not to a person).
PIPE_PROGRAMS = {"telemetry/bench_worker.py", "tools/sandbox_runner.py", "tools/worker_main.py"}
TERMINAL = re.compile(r"\bTerminalProgress\b|\bsys\.(stdout|stderr)\b|^\s*print\(", re.M)


def test_only_the_cli_talks_to_the_terminal() -> None:
    """Long work takes a ProgressCallback and reports notices through callbacks, so the
    window can show them; a terminal bar in the engine went to stderr under the window."""
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ENGINE).as_posix()
        if rel.startswith("cli/") or rel == "progress.py" or rel in PIPE_PROGRAMS:
            continue
        for match in TERMINAL.finditer(path.read_text(encoding="utf-8")):
            line = path.read_text(encoding="utf-8")[: match.start()].count("\n") + 1
            offenders.append(f"engine/{rel}:{line}: {match.group(0).strip()}")
    assert offenders == []
