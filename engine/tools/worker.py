"""Run a function in a child Python process that is killed when its time is up.

A tool that runs in a thread of the app cannot be stopped: a long C call (Python's own
`round(1, -2*10**7)`) holds the GIL, so even the thread that should time it out barely
runs. `run("engine.tools.calculator:evaluate", expression, timeout_s=5)` sends the call to
a warm worker process instead (`python -I`, importing this checkout's `engine`), waits
with the time limit and, when it runs out or the run is cancelled, SIGKILLs the worker;
the next call starts a fresh one. Arguments and results travel as JSON lines.

Workers are reused (starting one costs an interpreter start and the imports, ~0.1 s; a
call to a warm one costs well under a millisecond); one idle worker is kept, and every
worker left is killed when the app exits. The worker also caps its own CPU time per call
(`RLIMIT_CPU`), so it cannot spin on if the app is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from engine.progress import CancelToken
from engine.tools.base import ToolError, ToolTimeout

#: Idle workers kept for the next call; more are started while calls overlap.
MAX_IDLE = 1
#: A worker idle this long is closed instead of reused.
IDLE_S = 300.0
_POLL_S = 0.05
#: The folder holding the `engine` package this process runs (the worker imports the same).
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from engine.tools.worker_main import main; main()"
)


class _Worker:
    """One child process answering JSON-line requests in order."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, _ROOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=os.name == "posix",
        )
        self.replies: queue.Queue[bytes | None] = queue.Queue()
        self.last_used = time.monotonic()
        assert self.proc.stdout is not None
        threading.Thread(
            target=self._read, args=(self.proc.stdout,), daemon=True, name="aw-worker-read"
        ).start()

    def _read(self, pipe: IO[bytes]) -> None:
        with pipe:
            for line in pipe:
                self.replies.put(line)
        self.replies.put(None)

    def ask(
        self, request: dict[str, Any], timeout_s: float, cancel: CancelToken | None
    ) -> dict[str, Any] | str:
        """The worker's reply, or why there is none: "timeout", "cancelled" or "died"."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except OSError:
            return "died"
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            if cancel is not None and cancel.cancelled:
                return "cancelled"
            try:
                line = self.replies.get(timeout=min(left, _POLL_S))
            except queue.Empty:
                continue
            if line is None:
                return "died"
            reply: dict[str, Any] = json.loads(line)
            return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        self.proc.wait()


class _Pool:
    """Idle workers to reuse, and every live one (to kill at exit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()

    def take(self) -> _Worker:
        stale: list[_Worker] = []
        with self._lock:
            worker = None
            while self._idle and worker is None:
                candidate = self._idle.pop()
                fresh = time.monotonic() - candidate.last_used < IDLE_S
                if fresh and candidate.alive():
                    worker = candidate
                else:
                    stale.append(candidate)
        for old in stale:
            self.discard(old)
        if worker is None:
            worker = _Worker()
            with self._lock:
                self._live.add(worker)
        return worker

    def give_back(self, worker: _Worker) -> None:
        worker.last_used = time.monotonic()
        with self._lock:
            if len(self._idle) < MAX_IDLE and worker.alive():
                self._idle.append(worker)
                return
        self.discard(worker)

    def discard(self, worker: _Worker) -> None:
        with self._lock:
            self._live.discard(worker)
        worker.kill()

    def shutdown(self) -> None:
        with self._lock:
            workers, self._live, self._idle = list(self._live), set(), []
        for worker in workers:
            worker.kill()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._live]


_POOL = _Pool()
atexit.register(_POOL.shutdown)


def run(
    target: str,
    *args: Any,
    timeout_s: float,
    cancel: CancelToken | None = None,
    what: str = "the call",
) -> Any:
    """`module:function(*args)` in a worker process; its value (JSON types) or `ToolError`.

    At `timeout_s` (or when `cancel` is set) the worker is killed and `ToolTimeout` (or
    `ToolError("cancelled")`) is raised; a `ToolError` inside the worker comes back as one.
    """
    worker = _POOL.take()
    request = {"target": target, "args": list(args), "timeout_s": timeout_s}
    reply = worker.ask(request, timeout_s, cancel)
    if isinstance(reply, str):
        if reply == "died":  # let it finish dying, to read its exit status
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=2.0)
        code = worker.proc.poll()
        _POOL.discard(worker)
        if reply == "timeout":
            raise ToolTimeout(f"{what} did not finish within {timeout_s:g} s and was stopped")
        if reply == "cancelled":
            raise ToolError("cancelled")
        raise ToolError(f"{what} stopped unexpectedly (its worker process exited with {code})")
    _POOL.give_back(worker)
    if "value" in reply:
        return reply["value"]
    if reply.get("kind") == "timeout":
        raise ToolTimeout(reply["error"])
    raise ToolError(reply["error"])


def shutdown() -> None:
    """Kill every worker now (the app does this at exit; tests call it to leave none)."""
    _POOL.shutdown()


def worker_pids() -> list[int]:
    """Process ids of the workers alive now (busy or idle)."""
    return _POOL.pids()
