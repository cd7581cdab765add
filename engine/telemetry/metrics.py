"""Latency metrics from the engine's events: per generation, and rolling for live charts."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.llm.events import GenerationFinished, GenerationStats


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


@dataclass(frozen=True)
class GenerationMetrics:
    """What a profiler reports for one generation."""

    provider: str
    prompt_tokens: int
    cached_tokens: int
    new_tokens: int
    ttft_ms: float
    prefill_tok_s: float
    decode_tok_s: float
    inter_token: LatencySummary
    peak_rss_mb: float
    stop_reason: str

    @classmethod
    def from_finished(cls, finished: GenerationFinished) -> GenerationMetrics:
        return cls.from_stats(finished.stats, finished.stop_reason)

    @classmethod
    def from_stats(cls, st: GenerationStats, stop_reason: str = "") -> GenerationMetrics:
        return cls(
            st.provider,
            st.prompt_tokens,
            st.cached_tokens,
            st.new_tokens,
            st.ttft_ms,
            st.prefill_tok_s,
            st.decode_tok_s,
            LatencySummary.of(st.token_latencies_ms),
            st.peak_rss_mb,
            stop_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
