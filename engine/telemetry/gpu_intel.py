"""Intel (and other DRM) GPU use of this process on Linux, from /proc/<pid>/fdinfo.

Kernels with DRM client stats list, for every open DRM file, lines such as
`drm-driver: i915`, `drm-client-id: 7` and `drm-engine-render: 123456789 ns`. Busy
nanoseconds per engine, summed per client id (a client may be open on several fds) and
differenced between two reads, give the utilisation of each engine class.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from engine.telemetry.channels import Channel

DRIVERS = ("i915", "xe")
ENGINES = ("render", "video", "video-enhance", "copy", "compute")


def parse_fdinfo(text: str) -> tuple[str, str, dict[str, int]]:
    """(driver, client id, {engine: busy ns}) of one fdinfo file; driver "" if not DRM."""
    driver = client = ""
    busy: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "drm-driver":
            driver = value
        elif key == "drm-client-id":
            client = value
        elif key.startswith("drm-engine-") and value.endswith("ns"):
            busy[key[len("drm-engine-") :]] = int(value.split()[0])
    return driver, client, busy


class IntelFdinfoSource:
    name = "intel"

    def __init__(self, pid: int | None = None, proc: Path | str = "/proc") -> None:
        self._dir = Path(proc) / str(pid or os.getpid()) / "fdinfo"
        self.available = False
        self.channels: tuple[Channel, ...] = ()
        totals = self._totals()
        if totals is None:
            self.reason = (
                f"no Intel GPU client in {self._dir} (no i915/xe DRM file with engine stats)"
            )
            return
        self.reason = ""
        self.available = True
        self.channels = tuple(Channel(f"{e}_busy_percent", "%") for e in ENGINES)
        self._last = (time.monotonic(), totals)

    def _totals(self) -> dict[str, int] | None:
        clients: dict[str, dict[str, int]] = {}
        try:
            entries = list(self._dir.iterdir())
        except OSError:
            return None
        for entry in entries:
            try:
                driver, client, busy = parse_fdinfo(entry.read_text())
            except (OSError, ValueError):
                continue
            if driver in DRIVERS and busy:
                # Every fd of one client reports the same counters: count the client once.
                known = clients.setdefault(client or entry.name, {})
                for engine, ns in busy.items():
                    known[engine] = max(known.get(engine, 0), ns)
        if not clients:
            return None
        return {e: sum(c.get(e, 0) for c in clients.values()) for e in ENGINES}

    def read(self) -> Sequence[float]:
        now = time.monotonic()
        totals = self._totals() or self._last[1]
        then, before = self._last
        self._last = (now, totals)
        elapsed_ns = max(1.0, (now - then) * 1e9)
        return tuple(
            min(100.0, max(0.0, 100.0 * (totals[e] - before[e]) / elapsed_ns)) for e in ENGINES
        )
