"""Span rules on hand-made records: keyed pairs, most-recent-first, incomplete, steps."""

from __future__ import annotations

from typing import Any

from engine.telemetry.records import EventRecord
from engine.telemetry.spans import SpanRule, build_spans


def _ev(kind: str, t: float, step: int = 0, **data: Any) -> EventRecord:
    return EventRecord(kind, t, 0, step, data)


def test_unkeyed_rules_close_the_most_recent_begin() -> None:
    rules = [SpanRule("call", "call", ("done",))]
    events = [_ev("call", 1), _ev("call", 2), _ev("done", 3), _ev("done", 5)]
    spans = build_spans(events, run_end=9, rules=rules, steps=False)
    assert [(s.start, s.end) for s in spans] == [(1, 5), (2, 3)]


def test_keyed_rules_pair_by_key_and_name_by_label() -> None:
    rules = [SpanRule("tool", "tool_call", ("tool_result",), key="call_id", label="name")]
    events = [
        _ev("tool_call", 1, call_id="a", name="search"),
        _ev("tool_call", 2, call_id="b", name="shell"),
        _ev("tool_result", 3, call_id="a"),
        _ev("tool_result", 4, call_id="b"),
        _ev("tool_result", 5, call_id="zzz"),  # an end without a begin is ignored
    ]
    spans = build_spans(events, run_end=9, rules=rules, steps=False)
    assert [(s.name, s.start, s.end) for s in spans] == [("search", 1, 3), ("shell", 2, 4)]


def test_open_begins_close_at_the_run_end_and_steps_span_their_events() -> None:
    events = [
        _ev("run_begin", 0, label="r"),
        _ev("generation_started", 1, 1),
        _ev("prefill_finished", 2, 1),
        _ev("plan_step", 3, 2),
        _ev("plan_step", 4.5, 2),
    ]
    spans = build_spans(events, run_end=6)
    by_kind = {s.kind: s for s in spans if s.kind != "step"}
    assert by_kind["run"].incomplete and by_kind["run"].end == 6 and by_kind["run"].name == "r"
    assert not by_kind["prefill"].incomplete and by_kind["prefill"].ms == 1000
    assert by_kind["generation"].incomplete and by_kind["decode"].incomplete
    steps = [(s.step, s.start, s.end) for s in spans if s.kind == "step"]
    assert steps == [(1, 1, 2), (2, 3, 4.5)]  # the recorder's run markers are not a step
