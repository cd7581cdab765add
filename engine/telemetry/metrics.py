"""Latency metrics for live charts: a rolling rate. A generation's own figures are its
`GenerationStats` (engine.llm.events), summarised by `LatencySummary`."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from engine.llm.stats import LatencySummary

__all__ = ["LatencySummary", "RollingRate"]


class RollingRate:
    """Events per second over the last `window_s` seconds (tokens/s for a live chart)."""

    def __init__(self, window_s: float = 2.0) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self.window_s = window_s
        self._times: deque[float] = deque()

    def add(self, t: float, count: int = 1) -> None:
        self._times.extend([t] * count)
        self._trim(t)

    def extend(self, times: Iterable[float]) -> None:
        for t in times:
            self.add(t)

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], 1e-9)
        return (len(self._times) - 1) / span if span < self.window_s else len(self._times) / span
