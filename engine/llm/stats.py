"""Summaries of a generation's timings, and process memory readings for them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LatencySummary:
    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, latencies_ms: Sequence[float]) -> LatencySummary:
        if not latencies_ms:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        x = np.asarray(latencies_ms, dtype=np.float64)
        p50, p90, p99 = np.percentile(x, [50, 90, 99])
        return cls(len(x), float(x.mean()), float(p50), float(p90), float(p99), float(x.max()))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (0.0 when unknown)."""
    if sys.platform == "win32":
        import psutil

        return float(getattr(psutil.Process().memory_info(), "peak_wset", 0)) / 1e6
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def release_freed_memory() -> None:
    """Give freed heap pages back to the OS (glibc only; a no-op elsewhere).

    Parsing a large tokenizer.json leaves ~200 MB of freed-but-kept heap behind; without
    this, loading the ONNX session on top of it raises the process's peak RSS by as much.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # musl or another libc: nothing to trim
        return
