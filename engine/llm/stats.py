"""Process memory readings for generation stats."""

from __future__ import annotations

import sys


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (0.0 when unknown)."""
    if sys.platform == "win32":
        try:
            import psutil

            return float(psutil.Process().memory_info().peak_wset) / 1e6
        except (ImportError, AttributeError):
            return 0.0
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def current_rss_mb() -> float:
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 1e6
    except ImportError:
        return 0.0


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
