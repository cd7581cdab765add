"""Worker bodies of the benchmark matrix panel: `bench matrix` as the CLI runs it, and a
saved matrix session loaded back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.telemetry.session_file import SessionFileError
from gui import profile_io
from gui.bridge import TaskState


def ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.replace(",", " ").split())
    except ValueError:
        raise WorkbenchError(f"{what}: whole numbers separated by spaces (got {text!r})") from None


def run_matrix_worker(state: TaskState, config: Any, out: Path | None) -> dict[str, Any]:
    """Worker body: `bench matrix` as the CLI runs it; emits Progress and log lines and
    returns the result with the saved session's path."""
    from engine.progress import Reporter
    from engine.telemetry import session_file
    from engine.telemetry.matrix import record_matrix

    names = [str(m) for m in config.models]
    result, session = record_matrix(
        config, Reporter(state.emit, state.cancel), state.emit, ["gui", "bench", "matrix", *names]
    )
    path = session_file.save(session, out)
    return {**result, "session": str(path)}


def run_batch_worker(state: TaskState, config: Any) -> dict[str, Any]:
    """Worker body: `bench batch` as the CLI runs it (log lines and Progress emitted;
    Cancel keeps the runs that finished)."""
    from engine.progress import Reporter
    from engine.telemetry.bench_batch import run_bench_batch

    return run_bench_batch(config, state.emit, Reporter(state.emit, state.cancel))


def load_matrix(state: object, path: str) -> dict[str, Any]:
    session = profile_io.load(state, path)
    matrix = session.extra.get("matrix")
    if not isinstance(matrix, dict) or "rows" not in matrix:
        raise SessionFileError(
            f"{path} is a profiling session without a benchmark matrix: record one with "
            "Run here or `python main.py bench matrix --model NAME`"
        )
    return {**matrix, "session": str(path)}
