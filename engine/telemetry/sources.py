"""Counter sources a sampler reads: each says whether it is available and, if not, why."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import psutil

from engine.telemetry.channels import Channel, Source

__all__ = ["Channel", "ProcessSource", "Source", "SystemSource", "UnavailableSource"]


class SystemSource:
    """CPU (total and per core), RAM, and this process's CPU, RSS and threads (psutil)."""

    name = "system"

    def __init__(self, pid: int | None = None) -> None:
        self.available = True
        self.reason = ""
        self._psutil = psutil
        self._process = psutil.Process(pid or os.getpid())
        self._cores = psutil.cpu_count(logical=True) or 1
        self.channels = (
            Channel("cpu_percent", "%"),
            *(Channel(f"cpu{i}_percent", "%") for i in range(self._cores)),
            Channel("ram_used_mb", "MB"),
            Channel("ram_percent", "%"),
            Channel("process_cpu_percent", "%"),
            Channel("process_rss_mb", "MB"),
            Channel("process_threads", "count"),
        )
        # The first cpu_percent calls only set the reference point.
        psutil.cpu_percent(percpu=True)
        self._process.cpu_percent()

    def read(self) -> Sequence[float]:
        psutil = self._psutil
        per_core = psutil.cpu_percent(percpu=True)
        memory = psutil.virtual_memory()
        with self._process.oneshot():
            process_cpu = self._process.cpu_percent()
            rss = self._process.memory_info().rss
            threads = self._process.num_threads()
        total = sum(per_core) / max(1, len(per_core))
        return (
            total,
            *per_core,
            (memory.total - memory.available) / 1e6,
            memory.percent,
            process_cpu,
            rss / 1e6,
            float(threads),
        )


class ProcessSource:
    """CPU, RSS and threads of another process that comes and goes (a benchmark worker).

    `watch(pid)` points it at a process, `watch(None)` at nothing; readings while there
    is no process (or after it exited) are NaN, so a chart shows a gap, not a zero.
    """

    def __init__(self, name: str = "worker") -> None:
        import psutil

        self._psutil = psutil
        self.name = name
        self.available = True
        self.reason = ""
        self.channels: tuple[Channel, ...] = (
            Channel("cpu_percent", "%"),
            Channel("rss_mb", "MB"),
            Channel("threads", "count"),
        )
        self._process: Any = None

    def watch(self, pid: int | None) -> None:
        process = None
        if pid is not None:
            try:
                process = self._psutil.Process(pid)
                process.cpu_percent()  # the reference point for the next reading
            except self._psutil.Error:
                process = None
        self._process = process

    def read(self) -> Sequence[float]:
        process = self._process
        if process is None:
            return (math.nan, math.nan, math.nan)
        try:
            with process.oneshot():
                return (
                    process.cpu_percent(),
                    process.memory_info().rss / 1e6,
                    float(process.num_threads()),
                )
        except self._psutil.Error:  # it exited between two samples
            return (math.nan, math.nan, math.nan)


class UnavailableSource:
    """A source that cannot run here, kept in the list so the reason can be shown."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        self.available = False
        self.channels: tuple[Channel, ...] = ()

    def read(self) -> Sequence[float]:
        raise RuntimeError(f"{self.name} is not available: {self.reason}")


def default_sources() -> list[Source]:
    """Every source this workbench knows; those that cannot run here carry their reason."""
    from engine.telemetry.gpu_amd import AmdSysfsSource
    from engine.telemetry.gpu_intel import IntelFdinfoSource
    from engine.telemetry.gpu_nvidia import NvmlSource
    from engine.telemetry.gpu_windows import PdhSource

    return [SystemSource(), NvmlSource(), PdhSource(), AmdSysfsSource(), IntelFdinfoSource()]
