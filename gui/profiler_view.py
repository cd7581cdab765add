"""A saved profiling session as chart data: counters, tokens/s, inter-token latency, TTFT
and the timeline, all in seconds since the session's start (read-only view)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.telemetry.records import EventRecord, SpanRecord
from engine.telemetry.session_file import ProfileSession
from gui.timeline_data import session_spans

#: live chart key -> the system source's channel it shows
SYSTEM_CHARTS = {"cpu": "cpu_percent", "ram": "ram_percent", "rss": "process_rss_mb"}


@dataclass
class SessionView:
    name: str
    duration_s: float
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    ttft: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spans: list[SpanRecord] = field(default_factory=list)
    points: list[EventRecord] = field(default_factory=list)


def _tokens(session: ProfileSession) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token times, and (time, gap ms) of every gap between tokens of one run."""
    times: list[float] = []
    gap_t: list[float] = []
    gaps: list[float] = []
    for run in session.runs:
        last: float | None = None
        for e in run.events:
            if e.kind != "token":
                continue
            times.append(e.t)
            if last is not None and int(e.data.get("index", 0)) > 0:
                gap_t.append(e.t)
                gaps.append((e.t - last) * 1000.0)
            last = e.t
    return np.array(sorted(times)), np.array(gap_t), np.array(gaps)


def rolling_rate(times: np.ndarray, end: float, window: float = 2.0, hz: float = 10.0):  # type: ignore[no-untyped-def]
    """Tokens per second over the last `window` s, sampled at `hz` (like the live chart)."""
    grid = np.arange(0.0, max(end, 0.0) + 1.0 / hz, 1.0 / hz)
    if not len(times):
        return grid, np.zeros_like(grid)
    upper = np.searchsorted(times, grid, side="right")
    lower = np.searchsorted(times, grid - window, side="right")
    return grid, (upper - lower) / window


def build_view(session: ProfileSession) -> SessionView:
    view = SessionView(session.name, float(session.duration_s))
    for series in session.samples:
        if series.source != "system":
            continue
        names = [c["name"] for c in series.channels]
        t = np.asarray(series.t, dtype=float)
        values = np.array(
            [[np.nan if v is None else v for v in row] for row in series.values], dtype=float
        ).reshape(len(t), len(names))
        for key, channel in SYSTEM_CHARTS.items():
            if channel in names:
                view.series[key] = (t, values[:, names.index(channel)])
    times, gap_t, gaps = _tokens(session)
    view.series["itl"] = (gap_t, gaps)
    view.series["tok_s"] = rolling_rate(times, view.duration_s)
    ttft = [
        float(e.data["stats"]["ttft_ms"])
        for r in session.runs
        for e in r.events
        if e.kind == "generation_finished" and isinstance(e.data.get("stats"), dict)
    ]
    view.ttft = np.array(ttft, dtype=float)
    view.spans, view.points = session_spans(session.runs)
    return view


def check_viewable(session: ProfileSession) -> None:
    """Raise (KeyError, TypeError, ValueError...) now, in the worker, if the content is
    damaged in a way the charts would trip over later."""
    build_view(session)
