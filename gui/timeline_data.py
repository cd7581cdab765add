"""Runs and their spans for the profiler's timeline, from the window's event feeds.

`RunRouter` decides where the window's events belong: a plain generation is one run
(from `ctx.generation.started` to its `GenerationFinished`), an agent run is one run
(`RunStarted` to `RunFinished`) and the generations inside it belong to it. The live
`TimelineData` and the session recorder (`gui.profile_recorder`) both route this way.

`TimelineData` keeps only what the span rules need (events that open or close a span,
the first and last event of each step, and point events other than tokens) and builds
the spans with the engine's own `engine.telemetry.spans.build_spans`: an open span is
drawn up to now, exactly like an incomplete span of a saved session.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.agent.events import TokenDelta as AgentTokenDelta
from engine.llm.events import GenerationFinished, TokenDelta
from engine.telemetry.adapters import adapt
from engine.telemetry.records import EventRecord, Observed, SpanRecord
from engine.telemetry.spans import RUN_BEGIN, RUN_END, build_spans, is_span_event

TOKEN_TYPES = (TokenDelta, AgentTokenDelta)
#: Agent events that start / end a run (engine.agent.events class names).
AGENT_BEGIN, AGENT_END = "RunStarted", "RunFinished"
#: Recorded kinds never drawn as points (there are too many, or they are spans already).
NOT_POINTS = frozenset({"token", "token_delta", RUN_BEGIN, RUN_END})
#: Span-rule events still drawn as points too (a retriever that reports no start makes
#: lone memory hits, which no span shows).
ALSO_POINTS = frozenset({"memory_hit"})


def is_point(record: EventRecord) -> bool:
    if record.kind in NOT_POINTS:
        return False
    return record.kind in ALSO_POINTS or not is_span_event(record)


def recordable(event: object) -> bool:
    """Whether the engine's adapters can record it (a dataclass with a monotonic `t`)."""
    return dataclasses.is_dataclass(event) and isinstance(getattr(event, "t", None), int | float)


def observe(event: object) -> list[Observed]:
    """The engine adapter's records of an event; an unknown event type gives none."""
    try:
        return adapt(event)
    except TypeError:
        return []


class RunRouter:
    """Splits the event feeds into runs; subclasses say what beginning, recording and
    ending a run means."""

    def __init__(self) -> None:
        self.run_kind: str | None = None  # "generation" | "agent" while a run is open

    def begin(self, label: str, kind: str, t: float) -> None:
        raise NotImplementedError

    def record(self, event: object) -> None:
        raise NotImplementedError

    def end(self, t: float) -> None:
        raise NotImplementedError

    def _begin(self, label: str, kind: str, t: float) -> None:
        if self.run_kind is not None:
            self.end(t)
        self.run_kind = kind
        self.begin(label, kind, t)

    def _end(self, t: float) -> None:
        if self.run_kind is not None:
            self.end(t)
            self.run_kind = None

    def on_generation_started(self, t: float) -> None:
        if self.run_kind != "agent":
            self._begin("generation", "generation", t)

    def on_generation_events(self, events: list[object]) -> None:
        """A batch from `ctx.generation.received`."""
        for event in self.thin(events):
            if not recordable(event):
                continue
            t = float(getattr(event, "t", 0.0))
            if self.run_kind is None:
                self._begin("generation", "generation", t)
            self.record(event)
            if isinstance(event, GenerationFinished) and self.run_kind == "generation":
                self._end(t)

    def on_agent_events(self, events: list[object]) -> None:
        """A batch from `ctx.agents.run_events`."""
        for event in self.thin(events):
            if not recordable(event):
                continue  # an event type this window does not know: ignored
            name = type(event).__name__
            t = float(getattr(event, "t", 0.0))
            if name == AGENT_BEGIN:
                label = f"{getattr(event, 'agent', 'agent')}: {getattr(event, 'task', '')}"
                self._begin(label[:80], "agent", t)
            elif self.run_kind != "agent":
                self._begin("agent run", "agent", t)
            self.record(event)
            if name == AGENT_END:
                self._end(t)

    def thin(self, events: list[object]) -> list[object]:
        """The events worth recording (all of them; the live timeline drops most tokens)."""
        return events


def thin_tokens(events: list[object]) -> list[object]:
    """`events` with only the first and last of each run of consecutive token events.

    A timeline draws no token: tokens only move the edges of their step (its first and
    last event), and those edges are kept exactly.
    """
    kept: list[object] = []
    run: list[object] = []
    for event in events:
        if isinstance(event, TOKEN_TYPES):
            run.append(event)
            continue
        if run:
            kept.extend(run if len(run) <= 2 else (run[0], run[-1]))
            run = []
        kept.append(event)
    if run:
        kept.extend(run if len(run) <= 2 else (run[0], run[-1]))
    return kept


@dataclass
class LiveRun:
    index: int
    label: str
    kind: str
    start: float
    end: float | None = None
    step: int = 0
    span_events: list[EventRecord] = field(default_factory=list)
    bounds: dict[int, tuple[EventRecord, EventRecord]] = field(default_factory=dict)
    points: list[EventRecord] = field(default_factory=list)
    finished_spans: list[SpanRecord] | None = None  # built once when the run has ended

    def add(self, record: EventRecord, max_points: int) -> None:
        if is_span_event(record):
            self.span_events.append(record)
        if is_point(record) and len(self.points) < max_points:
            self.points.append(record)
        if record.kind in (RUN_BEGIN, RUN_END):
            return
        first, last = self.bounds.get(record.step, (record, record))
        self.bounds[record.step] = (
            record if record.t < first.t else first,
            record if record.t >= last.t else last,
        )

    def records(self) -> list[EventRecord]:
        """What `build_spans` needs: span events and each step's first and last event."""
        spans = {id(r) for r in self.span_events}
        edges = {id(r): r for pair in self.bounds.values() for r in pair if id(r) not in spans}
        return self.span_events + list(edges.values())


class TimelineData(RunRouter):
    """The last `max_runs` runs seen in the window, times in seconds since `t0`."""

    def __init__(self, t0: float, max_runs: int = 100, max_points: int = 500) -> None:
        super().__init__()
        self.t0 = t0
        self.max_points = max_points
        self.runs: deque[LiveRun] = deque(maxlen=max_runs)
        self.count = 0
        self.version = 0  # changes whenever something new arrived

    @property
    def current(self) -> LiveRun | None:
        return self.runs[-1] if self.runs and self.runs[-1].end is None else None

    def begin(self, label: str, kind: str, t: float) -> None:
        run = LiveRun(self.count, label, kind, t - self.t0)
        self.count += 1
        self.runs.append(run)
        self._add(Observed(RUN_BEGIN, t, {"label": label, "kind": kind}))

    def end(self, t: float) -> None:
        run = self.current
        if run is not None:
            self._add(Observed(RUN_END, t))
            run.end = max(t - self.t0, run.start)

    def record(self, event: object) -> None:
        for observed in observe(event):
            self._add(observed)

    def thin(self, events: list[object]) -> list[object]:
        return thin_tokens(events)

    def _add(self, observed: Observed) -> None:
        run = self.current
        if run is None:
            return
        if observed.step is not None:
            run.step = observed.step
        record = EventRecord(
            observed.kind, observed.t - self.t0, run.index, run.step, observed.data
        )
        run.add(record, self.max_points)
        self.version += 1

    @property
    def live(self) -> bool:
        """Whether a run is open (its spans grow with the clock)."""
        return self.current is not None

    def spans(self, now: float) -> list[SpanRecord]:
        """Every run's spans; open ones end at `now` (seconds since t0), marked incomplete."""
        spans: list[SpanRecord] = []
        for run in self.runs:
            if run.end is None:
                spans.extend(build_spans(run.records(), max(now, run.start)))
                continue
            if run.finished_spans is None:
                run.finished_spans = build_spans(run.records(), run.end)
            spans.extend(run.finished_spans)
        return spans

    def points(self) -> list[EventRecord]:
        return [p for run in self.runs for p in run.points]

    def labels(self) -> dict[int, str]:
        return {run.index: run.label for run in self.runs}

    def clear(self) -> None:
        self.runs.clear()
        self.run_kind = None
        self.version += 1


def session_spans(runs: list[Any]) -> tuple[list[SpanRecord], list[EventRecord]]:
    """A saved session's spans and point events (engine RunRecords)."""
    spans = [s for r in runs for s in r.spans]
    points = [e for r in runs for e in r.events if is_point(e)]
    return spans, points
