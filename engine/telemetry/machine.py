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


#: CPU features that decide which kernels ONNX Runtime and llama.cpp run (x86 and ARM).
SPEED_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "neon",
    "asimd",
    "asimddp",
    "sve",
    "i8mm",
)


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """The CPU's features among SPEED_FLAGS, from /proc/cpuinfo (empty where there is none)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if not path.is_file():
            return []
        cpuinfo = path.read_text(encoding="utf-8", errors="replace")
    found: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            found.update(value.split())
    return [flag for flag in SPEED_FLAGS if flag in found]


def has_amx(flags: list[str] | None = None) -> bool:
    """Intel AMX tiles (Sapphire Rapids and later)."""
    return "amx_tile" in (cpu_flags() if flags is None else flags)


def cpu_summary() -> dict[str, Any]:
    """What a benchmark records about the CPU it ran on."""
    return {
        "model": cpu_model(),
        "flags": cpu_flags(),
        "cores_logical": os.cpu_count() or 0,
        "cores_physical": psutil.cpu_count(logical=False),
        "arch": platform.machine(),
    }


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
        "cpu_flags": cpu_flags(),
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
