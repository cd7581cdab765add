"""Run a child process with a time limit and bounded output, and leave nothing behind.

The child gets its own session (process group); on timeout, cancellation or exit the
whole group is killed, so background children it started do not outlive the call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from engine.progress import CancelToken

_CHUNK = 65536


@dataclass(frozen=True)
class Finished:
    """How a child process ended and what it printed (decoded, clipped)."""

    returncode: int | None
    stdout: str
    stderr: str
    stdout_dropped: int
    stderr_dropped: int
    timed_out: bool
    cancelled: bool
    duration_s: float


class _Sink:
    """Reads a pipe to its end, keeping the first `limit` bytes and counting the rest."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        self.kept = bytearray()
        self.dropped = 0
        self._pipe, self._limit = pipe, limit
        self.thread = threading.Thread(target=self._read, daemon=True, name="aw-proc-read")
        self.thread.start()

    def _read(self) -> None:
        with self._pipe:
            while chunk := os.read(self._pipe.fileno(), _CHUNK):
                room = self._limit - len(self.kept)
                self.kept += chunk[: max(room, 0)]
                self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        with pipe:
            pipe.write(data)
    except (BrokenPipeError, OSError):
        pass  # the child stopped reading; what it did not read does not matter


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (POSIX), or the child itself."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.kill()


def run_process(
    argv: Sequence[str],
    *,
    stdin: bytes,
    cwd: Path,
    env: Mapping[str, str] | None,
    timeout_s: float,
    max_output_bytes: int,
    cancel: CancelToken | None = None,
    popen_options: Mapping[str, object] | None = None,
    stop: Callable[[subprocess.Popen[bytes]], None] | None = None,
    after: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Finished:
    """Run `argv` to its end or its time limit.

    `stop` ends the child and what it started (default: SIGKILL its process group); it runs
    whenever the call ends. `after` cleans up more, and is always called.
    """
    start = time.monotonic()
    options: dict[str, object] = dict(popen_options or {})
    if os.name == "posix":
        options.setdefault("start_new_session", True)
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        **options,  # type: ignore[call-overload]
    )
    assert proc.stdin and proc.stdout and proc.stderr
    out, err = _Sink(proc.stdout, max_output_bytes), _Sink(proc.stderr, max_output_bytes)
    threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    timed_out = cancelled = False
    try:
        while proc.poll() is None:
            if time.monotonic() - start > timeout_s:
                timed_out = True
                break
            if cancel is not None and cancel.cancelled:
                cancelled = True
                break
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
    finally:
        (stop or kill_group)(proc)
        if after is not None:
            after(proc)
        proc.wait()
        out.thread.join(timeout=2.0)
        err.thread.join(timeout=2.0)
    return Finished(
        None if timed_out or cancelled else proc.returncode,
        out.text(),
        err.text(),
        out.dropped,
        err.dropped,
        timed_out,
        cancelled,
        time.monotonic() - start,
    )
