"""GPU use on Windows (DirectML machines) from the performance counters, through PDH.

Counters (the same ones Task Manager shows), e.g. for engine instance
`pid_1234_luid_0x00000000_0x0000D1B2_phys_0_eng_0_engtype_3D`:
    \\GPU Engine(<instance>)\\Utilization Percentage
    \\GPU Process Memory(pid_1234_luid_0x00000000_0x0000D1B2_phys_0)\\Dedicated Usage
    \\GPU Adapter Memory(luid_0x00000000_0x0000D1B2_phys_0)\\Dedicated Usage
Utilisation is summed over the 3D and Compute engines, for this process and for the
whole GPU. The counters are read with pywin32's `win32pdh` (a query opened once, then
one collect per sample), never by spawning PowerShell. Parsing is pure and tested here;
the PDH calls only run on Windows.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.telemetry.channels import Channel

ENGINE_TYPES = ("3D", "Compute")
_INSTANCE = re.compile(
    r"pid_(?P<pid>\d+)_luid_(?P<luid>0x[0-9A-Fa-f]+_0x[0-9A-Fa-f]+)_phys_(?P<phys>\d+)"
    r"(?:_eng_(?P<eng>\d+)_engtype_(?P<type>[^)\\]*))?"
)
CHANNELS = (
    Channel("gpu_util_percent", "%"),
    Channel("process_gpu_util_percent", "%"),
    Channel("process_dedicated_mb", "MB"),
    Channel("adapter_dedicated_mb", "MB"),
)


@dataclass(frozen=True)
class Instance:
    pid: int
    luid: str
    engine_type: str  # "" for memory counters


def parse_instance(name: str) -> Instance | None:
    """The pid, adapter LUID and engine type of a GPU counter instance name."""
    match = _INSTANCE.search(name)
    if match is None:
        return None
    return Instance(int(match["pid"]), match["luid"], match["type"] or "")


def summarize(
    engines: Mapping[str, float],
    process_memory: Mapping[str, float],
    adapter_memory: Mapping[str, float],
    pid: int,
) -> tuple[float, float, float, float]:
    """(GPU %, this process's GPU %, its dedicated MB, the adapter's dedicated MB).

    Inputs map instance names to values, as PDH's wildcard reads return them. Per engine,
    utilisation is summed over processes; the GPU figure is the busiest 3D/Compute engine.
    """
    per_engine: dict[tuple[str, str], float] = {}
    ours = 0.0
    for name, value in engines.items():
        inst = parse_instance(name)
        if inst is None or inst.engine_type not in ENGINE_TYPES:
            continue
        engine_key = (inst.luid, name.split("_eng_")[1].split("_")[0])
        per_engine[engine_key] = per_engine.get(engine_key, 0.0) + value
        if inst.pid == pid:
            ours += value
    total = min(100.0, max(per_engine.values(), default=0.0))
    ours_mem = sum(
        v
        for n, v in process_memory.items()
        if (inst := parse_instance(n)) is not None and inst.pid == pid
    )
    adapter = sum(adapter_memory.values())
    return total, min(100.0, ours), ours_mem / 1e6, adapter / 1e6


class PdhSource:
    name = "windows-gpu"

    def __init__(self, pdh: Any = None, pid: int | None = None) -> None:
        self.available = False
        self.channels: tuple[Channel, ...] = ()
        self._pid = pid or os.getpid()
        if pdh is None:
            if sys.platform != "win32":
                self.reason = "GPU performance counters are a Windows feature"
                return
            try:
                pdh = importlib.import_module("win32pdh")
            except ImportError:
                self.reason = "pywin32 is not installed (the directml stack installs it)"
                return
        self._pdh = pdh
        try:
            self._query = pdh.OpenQuery()
            self._counters = {
                key: pdh.AddEnglishCounter(self._query, path)
                for key, path in (
                    ("engine", r"\GPU Engine(*)\Utilization Percentage"),
                    ("process", r"\GPU Process Memory(*)\Dedicated Usage"),
                    ("adapter", r"\GPU Adapter Memory(*)\Dedicated Usage"),
                )
            }
            pdh.CollectQueryData(self._query)  # rates need a first sample
        except Exception as exc:  # noqa: BLE001 - pywintypes.error and friends
            self.reason = f"GPU counters unavailable: {exc}"
            return
        self.reason = ""
        self.available = True
        self.channels = CHANNELS

    def read(self) -> Sequence[float]:
        pdh = self._pdh
        pdh.CollectQueryData(self._query)
        values = {
            key: dict(pdh.GetFormattedCounterArray(counter, pdh.PDH_FMT_DOUBLE))
            for key, counter in self._counters.items()
        }
        return summarize(values["engine"], values["process"], values["adapter"], self._pid)
