"""Functions run in a worker process that is killed at the time limit, even in a C call."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from engine.progress import CancelToken
from engine.tools import worker
from engine.tools.base import ToolError, ToolTimeout
from tests.helpers.responsive import longest_gap, ticking

#: `round(1, -2*10**7)` computes 10**20000000 in one C call holding the GIL (~16 s here).
SPIN = ("builtins:round", 1, -2 * 10**7)


@pytest.fixture(autouse=True)
def no_workers_left() -> Iterator[None]:
    yield
    pids = worker.worker_pids()
    worker.shutdown()
    for pid in pids:
        with pytest.raises(OSError):
            os.kill(pid, 0)  # killed and reaped


def test_values_and_errors_come_back() -> None:
    assert worker.run("math:comb", 10, 3, timeout_s=10) == 120
    assert worker.run("engine.tools.calculator:evaluate", "2 ** 10", timeout_s=10) == 1024
    with pytest.raises(ToolError, match=r"^round: ndigits -20000000 is outside"):
        worker.run("engine.tools.calculator:evaluate", "round(1, -2*10**7)", timeout_s=10)
    with pytest.raises(ToolError, match=r"^ZeroDivisionError: division by zero$"):
        worker.run("operator:truediv", 1, 0, timeout_s=10)
    with pytest.raises(ToolError, match=r"^TypeError: .*not JSON serializable"):
        worker.run("builtins:set", timeout_s=10)
    assert len(worker.worker_pids()) == 1  # one warm worker answered all of them


def test_a_call_holding_the_gil_is_killed_at_the_time_limit() -> None:
    worker.run("math:sqrt", 4, timeout_s=10)  # start the worker before timing
    (spinner,) = worker.worker_pids()
    start = time.monotonic()
    with ticking() as ticks, pytest.raises(ToolTimeout, match="within 1 s and was stopped"):
        worker.run(SPIN[0], *SPIN[1:], timeout_s=1.0, what="the spin")
    took = time.monotonic() - start
    assert 1.0 <= took < 3.0
    assert longest_gap(ticks) < 0.5  # this process kept running all along
    with pytest.raises(OSError):
        os.kill(spinner, 0)
    assert worker.run("math:sqrt", 9, timeout_s=10) == 3.0  # a fresh worker takes over


def test_cancel_stops_the_call() -> None:
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    start = time.monotonic()
    with pytest.raises(ToolError, match=r"^cancelled$"):
        worker.run(SPIN[0], *SPIN[1:], timeout_s=30.0, cancel=cancel)
    assert time.monotonic() - start < 3.0


def test_a_worker_that_dies_is_an_error_and_replaced() -> None:
    with pytest.raises(ToolError, match=r"stopped unexpectedly .*exited with 3"):
        worker.run("os:_exit", 3, timeout_s=10, what="the call")
    assert worker.run("math:sqrt", 16, timeout_s=10) == 4.0


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_CPU is POSIX")
def test_a_worker_nobody_kills_stops_itself_at_its_cpu_limit() -> None:
    """If the app is gone, the worker's own CPU limit ends a call that would spin on."""
    boot = worker._BOOT  # start one by hand, with no app to kill it
    with subprocess.Popen(
        [sys.executable, "-I", "-c", boot, worker._ROOT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        try:
            assert proc.stdin is not None
            request = {"target": SPIN[0], "args": list(SPIN[1:]), "timeout_s": 0.5}
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            proc.wait(timeout=30)  # CPU limit: what it used + 1 + 2 s
            assert proc.returncode == -signal.SIGXCPU
        finally:
            proc.kill()
