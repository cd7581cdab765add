"""HardwareSampler with real counters: readings, unavailable sources, clean shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from engine.telemetry.sampler import THREAD_NAME, HardwareSampler
from engine.telemetry.sources import Channel, SystemSource, UnavailableSource


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_system_source_reads_this_process() -> None:
    source = SystemSource()
    values = dict(zip((c.name for c in source.channels), source.read(), strict=True))
    assert values["process_rss_mb"] > 10
    assert values["process_threads"] >= 1
    assert 0 <= values["cpu_percent"] <= 100
    assert values["ram_used_mb"] > 0


def test_samples_at_its_rate_and_stops_without_leaking_threads() -> None:
    sampler = HardwareSampler([SystemSource()], rate_hz=50.0, seconds=10)
    for _ in range(3):  # start/stop repeatedly
        with sampler:
            assert sampler.running and len(_sampler_threads()) == 1
            time.sleep(0.3)  # the sampling window whose sample count is checked below
        assert not sampler.running
    assert _sampler_threads() == []
    t, v = sampler.buffers["system"].snapshot()
    assert len(t) >= 15  # ~45 expected; generous for a loaded CI machine
    assert v.shape[1] == len(SystemSource().channels)
    assert sampler.cpu_seconds >= 0


class _Flaky:
    name = "flaky"
    channels = (Channel("x", "count"),)
    available = True
    reason = ""

    def __init__(self) -> None:
        self.calls = 0

    def read(self) -> Sequence[float]:
        self.calls += 1
        if self.calls > 2:
            raise OSError("device went away")
        return (1.0,)


def test_unavailable_and_failing_sources_are_reported_not_fatal() -> None:
    flaky = _Flaky()
    sampler = HardwareSampler(
        [
            SystemSource(),
            UnavailableSource("nvml", "no NVIDIA driver (libnvidia-ml.so.1 not found)"),
            flaky,
        ],
        rate_hz=20.0,
    )
    for _ in range(5):
        sampler.sample_once()
    status = {s.name: s for s in sampler.status()}
    assert not status["nvml"].available and "libnvidia-ml" in status["nvml"].reason
    assert not status["flaky"].available and "device went away" in status["flaky"].reason
    assert status["system"].available
    assert len(sampler.buffers["flaky"]) == 2 and len(sampler.buffers["system"]) == 5
    assert "nvml" not in sampler.buffers


def test_process_source_follows_a_process_that_comes_and_goes() -> None:
    import math
    import subprocess
    import sys

    from engine.telemetry.sources import ProcessSource

    source = ProcessSource("worker")
    assert all(math.isnan(v) for v in source.read())  # nothing watched yet
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"  # running
        source.watch(child.pid)
        cpu, rss, threads = source.read()
        assert rss > 1 and threads >= 1 and cpu >= 0
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
    assert all(math.isnan(v) for v in source.read())  # it exited: a gap, not an error
    source.watch(child.pid)  # a pid that is gone
    assert all(math.isnan(v) for v in source.read())
