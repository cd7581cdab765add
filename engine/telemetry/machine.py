"""A description of the machine a session ran on: CPU, memory, GPU, OS and library versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

import psutil

from engine.telemetry.sources import Source

LIBRARIES = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "numpy",
    "tokenizers",
    "faiss-cpu",
    "faiss-gpu",
    "llguidance",
    "psutil",
    "nvidia-ml-py",
    "agent-workbench",
)


def cpu_model() -> str:
    """The CPU's marketing name where the OS tells it, else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def gpus(sources: list[Source] | None = None) -> list[dict[str, Any]]:
    """GPUs the counter sources found (device name, driver); empty when there is none."""
    found = []
    for source in sources or []:
        if source.available and source.name != "system":
            found.append(
                {
                    "source": source.name,
                    "device": str(getattr(source, "device", "") or ""),
                    "driver": str(getattr(source, "driver", "") or ""),
                }
            )
    return found


def describe(sources: list[Source] | None = None) -> dict[str, Any]:
    """`sources`: the sampler's own; GPU readers it does not have are asked here."""
    from engine.telemetry.sources import default_sources

    given = {s.name: s for s in sources or []}
    sources = [given.get(s.name, s) for s in default_sources()]
    ram = psutil.virtual_memory().total
    physical = psutil.cpu_count(logical=False)
    try:
        import onnxruntime as ort

        ort_providers = list(ort.get_available_providers())
    except ImportError:
        ort_providers = []
    return {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "os_version": platform.version(),
        "arch": platform.machine(),
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count() or 0,
        "cores_physical": physical,
        "ram_gb": round(ram / 1e9, 2),
        "gpus": gpus(sources),
        "gpu_reasons": {s.name: s.reason for s in sources or [] if not s.available},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
        "libraries": library_versions(),
        "onnxruntime_providers": ort_providers,
    }
