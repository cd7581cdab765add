"""Latency metrics: percentiles, per-generation metrics from a real run, rolling rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.llm.events import GenerationStats
from engine.llm.session import LLMSession
from engine.telemetry.metrics import LatencySummary, RollingRate


def test_latency_percentiles() -> None:
    summary = LatencySummary.of([float(i) for i in range(1, 101)])
    assert summary.count == 100 and summary.max_ms == 100
    assert summary.p50_ms == pytest.approx(50.5) and summary.p99_ms == pytest.approx(99.01)
    assert LatencySummary.of([]).count == 0


def test_metrics_of_a_real_generation(tiny_int4: Path) -> None:
    session = LLMSession(tiny_int4, provider="cpu")
    finished = session.complete("the quick brown", max_new_tokens=16, ignore_eos=True)
    stats, itl = finished.stats, finished.stats.inter_token()
    assert stats.new_tokens == 16 and itl.count == 15
    assert 0 < itl.p50_ms <= itl.p99_ms <= itl.max_ms
    assert finished.stop_reason == "max_tokens" and stats.to_dict()["provider"] == "cpu"
    assert GenerationStats.from_dict(stats.to_dict(latencies=True)) == stats


def test_rolling_rate() -> None:
    rate = RollingRate(window_s=1.0)
    assert rate.rate(0.0) == 0.0
    rate.extend(i * 0.01 for i in range(300))  # 100 events/s for 3 s
    assert rate.rate(2.99) == pytest.approx(100, rel=0.05)
    assert rate.rate(10.0) == 0.0  # the window has moved past them
    with pytest.raises(ValueError):
        RollingRate(0)
