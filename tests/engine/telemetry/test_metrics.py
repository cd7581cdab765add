"""Latency metrics: percentiles, per-generation metrics from a real run, rolling rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.llm.session import LLMSession
from engine.telemetry.metrics import GenerationMetrics, LatencySummary, RollingRate


def test_latency_percentiles() -> None:
    summary = LatencySummary.of([float(i) for i in range(1, 101)])
    assert summary.count == 100 and summary.max_ms == 100
    assert summary.p50_ms == pytest.approx(50.5) and summary.p99_ms == pytest.approx(99.01)
    assert LatencySummary.of([]).count == 0


def test_metrics_of_a_real_generation(tiny_int4: Path) -> None:
    session = LLMSession(tiny_int4, provider="cpu")
    finished = session.complete("the quick brown", max_new_tokens=16, ignore_eos=True)
    metrics = GenerationMetrics.from_finished(finished)
    assert metrics.new_tokens == 16 and metrics.inter_token.count == 15
    assert (
        0 < metrics.inter_token.p50_ms <= metrics.inter_token.p99_ms <= metrics.inter_token.max_ms
    )
    assert metrics.stop_reason == "max_tokens" and metrics.to_dict()["provider"] == "cpu"


def test_rolling_rate() -> None:
    rate = RollingRate(window_s=1.0)
    assert rate.rate(0.0) == 0.0
    rate.extend(i * 0.01 for i in range(300))  # 100 events/s for 3 s
    assert rate.rate(2.99) == pytest.approx(100, rel=0.05)
    assert rate.rate(10.0) == 0.0  # the window has moved past them
    with pytest.raises(ValueError):
        RollingRate(0)
