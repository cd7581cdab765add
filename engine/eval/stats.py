"""The numbers of a set of runs: pass rate (with Wilson's 95% interval), medians, rates."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

Z95 = 1.959963984540054


def wilson(passed: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a pass rate (95% by default): sound for few runs and for
    rates of 0 or 1, where the normal approximation gives nonsense."""
    if runs <= 0:
        return (0.0, 1.0)
    p = passed / runs
    denominator = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denominator
    spread = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denominator
    return (max(0.0, centre - spread), min(1.0, centre + spread))


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(statistics.median(present)), 3) if present else None


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summary(runs: Sequence[dict[str, Any]], repeat: int = 1) -> dict[str, Any]:
    """`runs`: task runs as stored in a result set (engine.eval.results). The interval is
    given when tasks ran more than once (`repeat` > 1), else None."""
    passed = sum(1 for r in runs if r["passed"])
    calls = sum(len(r["tool_calls"]) for r in runs)
    valid = sum(sum(1 for c in r["tool_calls"] if c["valid"]) for r in runs)
    accepted = sum(sum(1 for c in r["tool_calls"] if c["accepted"]) for r in runs)
    interval = wilson(passed, len(runs)) if repeat > 1 and runs else None
    return {
        "tasks": len({r["task"] for r in runs}),
        "runs": len(runs),
        "passed": passed,
        "pass_rate": rate(passed, len(runs)),
        "pass_rate_ci95": [round(interval[0], 4), round(interval[1], 4)] if interval else None,
        "tool_calls": calls,
        "valid_tool_call_rate": rate(valid, calls),
        "accepted_tool_call_rate": rate(accepted, calls),
        "median_latency_ms": median([r["latency_ms"] for r in runs]),
        "median_tokens": median([r["generated_tokens"] for r in runs]),
        "median_ttft_ms": median([r["ttft_ms"] for r in runs]),
    }
