"""A session as a Chrome trace (Trace Event Format JSON, for Perfetto and chrome://tracing).

Process 1 holds one track per run: its spans (run, steps, generations, prefill, decode,
tool calls) as matched B/E pairs, its tokens and other point events as instant events.
Spans that overlap without nesting go to an extra lane of the same run, since a viewer
stacks B/E per thread. Process 2 holds one counter track per hardware channel, process 3
ONNX Runtime's own operator profile when it was recorded. Timestamps are microseconds
since the session start, on the monotonic clock the events were stamped with.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.telemetry.records import SpanRecord
from engine.telemetry.session_file import ProfileSession, RunRecord
from engine.telemetry.spans import is_span_event
from engine.telemetry.trace_check import check

RUNS_PID, HARDWARE_PID, ORT_PID = 1, 2, 3
Event = dict[str, Any]


def us(t: float) -> float:
    return round(t * 1e6, 3)


def _contains(outer: SpanRecord, inner: SpanRecord) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def lanes(spans: Sequence[SpanRecord]) -> list[list[SpanRecord]]:
    """Split spans into lanes in which every pair is nested or disjoint."""
    result: list[list[SpanRecord]] = []
    stacks: list[list[SpanRecord]] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        for lane, stack in zip(result, stacks, strict=True):
            # Spans that ended before this one starts are closed (later ones start later).
            while stack and not _contains(stack[-1], span) and stack[-1].end <= span.start:
                stack.pop()
            if not stack or _contains(stack[-1], span):
                lane.append(span)
                stack.append(span)
                break
        else:
            result.append([span])
            stacks.append([span])
    return result


def _lane_events(lane: Sequence[SpanRecord], tid: int) -> Iterator[Event]:
    stack: list[SpanRecord] = []
    for span in lane:
        while stack and not _contains(stack[-1], span):
            yield _end(stack.pop(), tid)
        stack.append(span)
        args = {"kind": span.kind, "step": span.step, "incomplete": span.incomplete}
        yield {
            "ph": "B",
            "name": span.name,
            "cat": span.kind,
            "ts": us(span.start),
            "pid": RUNS_PID,
            "tid": tid,
            "args": args,
        }
    while stack:
        yield _end(stack.pop(), tid)


def _end(span: SpanRecord, tid: int) -> Event:
    return {"ph": "E", "name": span.name, "ts": us(span.end), "pid": RUNS_PID, "tid": tid}


def _instants(run: RunRecord, tid: int) -> Iterator[Event]:
    for ev in run.events:
        if is_span_event(ev):
            continue
        args = {k: v for k, v in ev.data.items() if isinstance(v, str | int | float | bool)}
        yield {
            "ph": "i",
            "s": "t",
            "name": ev.kind,
            "cat": ev.kind,
            "ts": us(ev.t),
            "pid": RUNS_PID,
            "tid": tid,
            "args": {"step": ev.step, **args},
        }


def _counters(session: ProfileSession) -> list[list[Event]]:
    tracks = []
    for series in session.samples:
        for j, channel in enumerate(series.channels):
            name = f"{series.source} {channel['name']} ({channel['unit']})"
            track = [
                {
                    "ph": "C",
                    "name": name,
                    "ts": us(t),
                    "pid": HARDWARE_PID,
                    "tid": 0,
                    "args": {"value": row[j]},
                }
                for t, row in zip(series.t, series.values, strict=True)
                if row[j] is not None
            ]
            tracks.append(track)
    return tracks


def _ort(session: ProfileSession) -> list[Event]:
    """ONNX Runtime's events in whole microseconds, as it wrote them: nesting stays exact."""
    events = [
        {
            "ph": "X",
            "name": op["name"],
            "cat": op.get("cat", "Node"),
            "ts": round(op["t"] * 1e6),
            "dur": round(op["dur"] * 1e6),
            "pid": ORT_PID,
            "tid": 1,
            "args": op.get("args", {}),
        }
        for op in session.ort_profile
    ]
    return sorted(events, key=lambda e: (e["ts"], -e["dur"]))


def _meta(pid: int, tid: int | None, name: str) -> Event:
    if tid is None:
        return {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}}
    return {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}


def build(session: ProfileSession) -> dict[str, Any]:
    meta = [_meta(RUNS_PID, None, f"runs: {session.name}"), _meta(HARDWARE_PID, None, "hardware")]
    streams: list[list[Event]] = []
    tid = 0
    for run in session.runs:
        for i, lane in enumerate(lanes(run.spans) or [[]]):
            tid += 1
            suffix = f" (lane {i + 1})" if i else ""
            meta.append(_meta(RUNS_PID, tid, f"run {run.index + 1}: {run.label}{suffix}"))
            stream = list(_lane_events(lane, tid))
            if i == 0:
                stream = list(heapq.merge(stream, _instants(run, tid), key=lambda e: e["ts"]))
            streams.append(stream)
    streams.extend(_counters(session))
    if session.ort_profile:
        meta.append(_meta(ORT_PID, None, "onnxruntime operators"))
        meta.append(_meta(ORT_PID, 1, "session.run"))
        streams.append(_ort(session))
    events = meta + list(heapq.merge(*streams, key=lambda e: e["ts"]))
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "session": session.name,
            "created": session.created,
            "machine": session.machine.get("cpu", ""),
        },
    }


def export(session: ProfileSession, out: Path) -> dict[str, Any]:
    """Write the trace to `out` after checking it; returns a summary of what it holds."""
    trace = build(session)
    check(trace)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(trace), encoding="utf-8")
    counts: dict[str, int] = {}
    for ev in trace["traceEvents"]:
        counts[ev["ph"]] = counts.get(ev["ph"], 0) + 1
    return {"path": str(out), "events": len(trace["traceEvents"]), "by_phase": counts}
