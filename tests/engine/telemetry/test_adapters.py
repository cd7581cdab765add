"""Adapters: generation events unfold into records, other dataclasses go generic."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.llm.events import GenerationFinished, GenerationStats, TokenDelta
from engine.telemetry.adapters import adapt, snake


@dataclass(frozen=True)
class MemoryHit:
    text: str
    score: float
    t: float
    step: int


def test_generation_events() -> None:
    assert adapt(TokenDelta("a", 7, 0, 1.5))[0].data == {"index": 0, "token_id": 7, "text": "a"}
    stats = GenerationStats("cpu", 4, 1, 2, 10.0, 9.0, 333.3, 5.0, 200.0, (5.0,),
                            t_start=1.0, t_first_token=1.01, t_end=1.02)  # fmt: skip
    records = adapt(GenerationFinished("ab", (7, 8), "max_tokens", stats, 1.02))
    assert [(r.kind, r.t) for r in records] == [
        ("generation_started", 1.0), ("prefill_finished", 1.01), ("generation_finished", 1.02)
    ]  # fmt: skip
    assert records[2].data["stats"]["token_latencies_ms"] == [5.0]


def test_any_timed_dataclass_is_recorded_generically() -> None:
    (record,) = adapt(MemoryHit("paris", float("nan"), 3.0, 2))
    assert (record.kind, record.t, record.step) == ("memory_hit", 3.0, 2)
    assert record.data == {"text": "paris", "score": None}  # NaN is not JSON
    assert snake("RunError") == "run_error" and snake("ToolCall") == "tool_call"
    with pytest.raises(TypeError, match="monotonic timestamp"):
        adapt(object())
