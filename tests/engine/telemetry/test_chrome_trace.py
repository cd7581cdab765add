"""Chrome trace layout: lanes keep B/E nested per thread, counters and instants are placed."""

from __future__ import annotations

from engine.telemetry.chrome_trace import build, lanes
from engine.telemetry.records import EventRecord, SpanRecord
from engine.telemetry.session_file import ProfileSession, RunRecord, SampleSeries
from engine.telemetry.trace_check import problems


def _span(name: str, start: float, end: float) -> SpanRecord:
    return SpanRecord(name, "tool", 0, 0, start, end)


def test_lanes_nest_or_separate() -> None:
    a, b, c, d = _span("a", 0, 10), _span("b", 1, 3), _span("c", 2, 5), _span("d", 6, 7)
    result = lanes([d, c, b, a])
    assert result == [[a, b, d], [c]]  # c crosses b's end: its own lane
    assert lanes([]) == []
    same = [_span("x", 0, 1), _span("y", 0, 1), _span("z", 1, 1)]
    assert len(lanes(same)) == 1  # equal bounds nest; a zero-length span after them fits


def _session(spans: list[SpanRecord], values: list[list[float | None]]) -> ProfileSession:
    events = [EventRecord("token", 0.5, 0, 0, {"index": 0, "text": "a"})]
    run = RunRecord(0, "r", "agent", 0.0, 10.0, events, spans, {})
    samples = [SampleSeries("system", [{"name": "cpu", "unit": "%"}], [0.0, 1.0, 2.0], values)]
    return ProfileSession("s", "2026-01-01T00:00:00+00:00", 10.0, {}, [run], samples)


def test_built_trace_is_valid_and_counters_skip_missing_values() -> None:
    spans = [_span("a", 0, 10), _span("b", 1, 3), _span("c", 2, 5), _span("d", 6, 7)]
    trace = build(_session(spans, [[1.0], [None], [3.0]]))
    assert problems(trace) == []
    events = trace["traceEvents"]
    assert [e["args"]["value"] for e in events if e["ph"] == "C"] == [1.0, 3.0]
    assert sum(e["ph"] == "B" for e in events) == 4
    token = next(e for e in events if e["ph"] == "i")
    assert token["ts"] == 500000.0 and token["args"]["text"] == "a"
    ts = [e["ts"] for e in events if e["ph"] != "M"]
    assert ts == sorted(ts)
    tids = {e["tid"] for e in events if e["ph"] == "B"}
    assert len(tids) == 2  # the crossing span went to a second lane
