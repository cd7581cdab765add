"""NVIDIA counters through NVML (the `nvidia-ml-py` package, module `pynvml`).

Written against NVML's documented calls; the tests drive it with a recorded NVML record,
and on machines without an NVIDIA driver it reports why it is unavailable.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Sequence
from typing import Any

from engine.telemetry.channels import Channel

CHANNELS = (
    Channel("gpu_util_percent", "%"),
    Channel("mem_ctrl_util_percent", "%"),
    Channel("mem_used_mb", "MB"),
    Channel("mem_total_mb", "MB"),
    Channel("temperature_c", "C"),
    Channel("power_w", "W"),
    Channel("sm_clock_mhz", "MHz"),
    Channel("mem_clock_mhz", "MHz"),
    Channel("process_mem_mb", "MB"),
)


class NvmlSource:
    name = "nvidia"

    def __init__(self, index: int = 0, nvml: Any = None, pid: int | None = None) -> None:
        self.available = False
        self.reason = ""
        self.channels: tuple[Channel, ...] = ()
        self.device = ""
        self.driver = ""
        self._pid = pid or os.getpid()
        if nvml is None:
            try:
                nvml = importlib.import_module("pynvml")
            except ImportError:
                self.reason = "nvidia-ml-py is not installed (the cuda stack installs it)"
                return
        self._nvml = nvml
        try:
            nvml.nvmlInit()
            count = nvml.nvmlDeviceGetCount()
            if count <= index:
                self.reason = f"no NVIDIA GPU #{index} (NVML sees {count})"
                return
            self._handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(self._handle)
        except Exception as exc:  # noqa: BLE001 - NVMLError subclasses, library not found
            self.reason = f"NVML could not start: {exc}"
            return
        self.device = name.decode() if isinstance(name, bytes) else str(name)
        driver = getattr(nvml, "nvmlSystemGetDriverVersion", None)
        try:
            version = driver() if driver is not None else ""
        except Exception:  # noqa: BLE001 - the driver version is only descriptive
            version = ""
        self.driver = version.decode() if isinstance(version, bytes) else str(version)
        self.available = True
        self.channels = CHANNELS

    def _optional(self, call: Any, *args: Any) -> Any:
        """Counters a GPU may not support (power on some boards) read as NaN."""
        try:
            return call(self._handle, *args)
        except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends
            return None

    def read(self) -> Sequence[float]:
        nvml = self._nvml
        util = nvml.nvmlDeviceGetUtilizationRates(self._handle)
        memory = nvml.nvmlDeviceGetMemoryInfo(self._handle)
        temp = self._optional(nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU)
        power = self._optional(nvml.nvmlDeviceGetPowerUsage)
        sm = self._optional(nvml.nvmlDeviceGetClockInfo, nvml.NVML_CLOCK_SM)
        mem_clock = self._optional(nvml.nvmlDeviceGetClockInfo, nvml.NVML_CLOCK_MEM)
        processes = self._optional(nvml.nvmlDeviceGetComputeRunningProcesses) or []
        ours = sum(p.usedGpuMemory or 0 for p in processes if getattr(p, "pid", None) == self._pid)
        return (
            float(util.gpu),
            float(util.memory),
            memory.used / 1e6,
            memory.total / 1e6,
            _num(temp),
            _num(power) / 1000.0,
            _num(sm),
            _num(mem_clock),
            ours / 1e6,
        )


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)
