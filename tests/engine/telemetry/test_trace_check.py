"""The Trace Event Format check: each rule has a trace that breaks it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.telemetry.trace_check import TraceFormatError, check, problems

GOOD: dict[str, Any] = {
    "traceEvents": [
        {"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "runs"}},
        {"ph": "B", "name": "run", "ts": 0.0, "pid": 1, "tid": 1},
        {"ph": "B", "name": "prefill", "ts": 1.0, "pid": 1, "tid": 1},
        {"ph": "i", "s": "t", "name": "token", "ts": 5.0, "pid": 1, "tid": 1},
        {"ph": "E", "name": "prefill", "ts": 5.0, "pid": 1, "tid": 1},
        {"ph": "C", "name": "cpu", "ts": 6.0, "pid": 2, "args": {"value": 12.5}},
        {"ph": "X", "name": "MatMul", "ts": 6.5, "dur": 2.0, "pid": 3, "tid": 1},
        {"ph": "E", "ts": 9.0, "pid": 1, "tid": 1},
    ]
}


def _broken(index: int, **change: Any) -> dict[str, Any]:
    trace = copy.deepcopy(GOOD)
    event = trace["traceEvents"][index]
    for key, value in change.items():
        if value is None:
            event.pop(key)
        else:
            event[key] = value
    return trace


def test_a_good_trace_passes() -> None:
    assert problems(GOOD) == [] and problems(GOOD["traceEvents"]) == []
    check(GOOD)


def test_an_unmatched_begin_fails() -> None:
    trace = copy.deepcopy(GOOD)
    del trace["traceEvents"][-1]  # the run's E
    assert problems(trace) == ["begin 'run' on pid/tid 1/1 is never ended"]
    with pytest.raises(TraceFormatError, match="never ended"):
        check(trace)


def test_an_end_without_begin_and_crossed_pairs_fail() -> None:
    trace = copy.deepcopy(GOOD)
    trace["traceEvents"].append({"ph": "E", "ts": 10.0, "pid": 1, "tid": 1})
    assert any("end without a begin" in p for p in problems(trace))
    crossed = copy.deepcopy(GOOD)
    crossed["traceEvents"][4]["name"] = "run"  # closes "run" while "prefill" is open
    assert any("ends 'run' but 'prefill' is open" in p for p in problems(crossed))
    other_thread = _broken(4, tid=2)  # an E on another thread does not close it
    assert len(problems(other_thread)) == 2


@pytest.mark.parametrize(
    ("index", "change", "message"),
    [
        (1, {"ts": None}, "ts missing"),
        (1, {"pid": None}, "pid missing"),
        (1, {"tid": None}, "tid missing"),
        (2, {"name": None}, "name missing"),
        (3, {"ts": 0.5}, "goes back in time"),
        (3, {"s": "x"}, "scope"),
        (5, {"args": {"value": "12"}}, "finite numbers"),
        (5, {"args": {"value": float("nan")}}, "finite numbers"),
        (5, {"args": {}}, "without values"),
        (6, {"dur": None}, "dur missing"),
        (6, {"dur": -1.0}, "negative"),
        (0, {"name": "nonsense"}, "metadata"),
        (1, {"ph": "Q"}, "unknown phase"),
    ],
)
def test_each_broken_field_is_reported(index: int, change: dict[str, Any], message: str) -> None:
    found = problems(_broken(index, **change))
    assert any(message in p for p in found), found


def test_not_a_trace() -> None:
    assert problems({"events": []}) and problems("text")


def test_complete_events_on_one_thread_must_nest() -> None:
    def x(ts: float, dur: float, tid: int = 1) -> dict[str, Any]:
        return {"ph": "X", "name": "op", "ts": ts, "dur": dur, "pid": 3, "tid": tid}

    nested = [x(0, 10), x(1, 2), x(3, 7), x(10, 1)]
    assert problems(nested) == []
    crossing = [x(0, 10), x(5, 6)]
    assert problems(crossing) == ["event 1 (X): overlaps an enclosing slice without nesting"]
    assert problems([x(0, 10), x(5, 6, tid=2)]) == []  # other threads are independent
