"""`Recorder`: records engine events of one or more runs while a HardwareSampler runs.

    with Recorder(name="generate") as rec:
        with rec.run("generate", manifest=..., provider=...):
            for event in rec.watch(session.generate(prompt)):
                ...
    session = rec.session   # a ProfileSession, ready for session_file.save

Events are adapted (adapters.py) into generic records, spans are built from begin/end
pairs (spans.py), and each run gets its RunMetrics when it ends.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from engine.telemetry.adapters import adapt
from engine.telemetry.records import EventRecord, Observed, json_safe
from engine.telemetry.run_metrics import RunMetrics
from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.session_file import ProfileSession, RunRecord, SampleSeries
from engine.telemetry.spans import RUN_BEGIN, RUN_END, build_spans

T = TypeVar("T")


class RunHandle:
    """The run being recorded; `provider`, `manifest` and `extra` may be filled in late."""

    def __init__(self, index: int, label: str, kind: str, start: float) -> None:
        self.index, self.label, self.kind, self.start = index, label, kind, start
        self.events: list[EventRecord] = []
        self.step = 0
        self.manifest: dict[str, Any] = {}
        self.provider: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}


class Recorder:
    def __init__(
        self,
        name: str = "session",
        sampler: HardwareSampler | None = None,
        clock: Callable[[], float] = time.monotonic,
        command: list[str] | None = None,
    ) -> None:
        if sampler is None:
            from engine.telemetry.sources import default_sources

            sampler = HardwareSampler(default_sources(), rate_hz=10.0, seconds=3600.0)
        self.name = name
        self.sampler = sampler
        self.clock = clock
        self.command = command or []
        self.t0 = 0.0
        self.created = ""
        self.runs: list[RunRecord] = []
        self.current: RunHandle | None = None
        self.ort_profile: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}
        self.session: ProfileSession | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.t0 = self.clock()
        self.created = datetime.now(UTC).isoformat(timespec="seconds")
        self.sampler.sample_once()  # a first row right at the start
        self.sampler.start()

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def finish(self) -> ProfileSession:
        """Stop sampling and build the session (idempotent)."""
        if self.session is not None:
            return self.session
        if self.current is not None:
            self.end_run()
        self.sampler.stop()
        self.sampler.sample_once()  # and a last one at the end
        from engine.telemetry.machine import describe

        self.session = ProfileSession(
            name=self.name,
            created=self.created,
            duration_s=self.clock() - self.t0,
            machine=describe(self.sampler.sources),
            runs=self.runs,
            samples=self._samples(),
            sampler={
                "rate_hz": self.sampler.rate_hz,
                "cpu_seconds": self.sampler.cpu_seconds,
                "ticks": self.sampler.ticks,
                # rows older than the rings' capacity (an hour at 10 Hz) are not kept
                "dropped": sum(
                    max(0, r.total_written - r.capacity) for r in self.sampler.buffers.values()
                ),
                "sources": [vars(s) for s in self.sampler.status()],
            },
            command=self.command,
            ort_profile=self.ort_profile,
            extra=self.extra,
        )
        return self.session

    def _samples(self) -> list[SampleSeries]:
        series = []
        by_name = {s.name: s for s in self.sampler.sources}
        for name, ring in self.sampler.buffers.items():
            t, v = ring.snapshot()
            channels = [{"name": c.name, "unit": c.unit} for c in by_name[name].channels]
            series.append(SampleSeries(name, channels, (t - self.t0).tolist(), v.tolist()))
        return series

    # ---------------------------------------------------------------- runs
    @contextlib.contextmanager
    def run(self, label: str, kind: str = "generation") -> Iterator[RunHandle]:
        handle = self.begin_run(label, kind)
        try:
            yield handle
        finally:
            self.end_run()

    def begin_run(self, label: str, kind: str = "generation") -> RunHandle:
        if self.current is not None:
            self.end_run()
        now = self.clock()
        self.current = RunHandle(len(self.runs), label, kind, now)
        self._add(Observed(RUN_BEGIN, now, {"label": label, "kind": kind}))
        return self.current

    def end_run(self) -> RunRecord:
        handle = self.current
        if handle is None:
            raise RuntimeError("no run is being recorded")
        end = self.clock()
        self._add(Observed(RUN_END, end))
        self.current = None
        events = sorted(handle.events, key=lambda e: e.t)
        spans = build_spans(events, end - self.t0)
        record = RunRecord(
            index=handle.index,
            label=handle.label,
            kind=handle.kind,
            start=handle.start - self.t0,
            end=end - self.t0,
            events=events,
            spans=spans,
            metrics=RunMetrics.of(events, spans).to_dict(),
            manifest=handle.manifest,
            provider=handle.provider,
            extra=handle.extra,
        )
        self.runs.append(record)
        return record

    # ---------------------------------------------------------------- events
    def record(self, event: Any) -> None:
        """Record one engine event (any dataclass with a monotonic `t`) in the current run."""
        if self.current is None:
            raise RuntimeError("record() needs a run: use `with recorder.run(...)`")
        for observed in adapt(event):
            self._add(observed)

    def mark(self, kind: str, **data: Any) -> None:
        """Record a point in time of the current run from the caller's side (e.g. a load)."""
        if self.current is None:
            raise RuntimeError("mark() needs a run: use `with recorder.run(...)`")
        self._add(Observed(kind, self.clock(), json_safe(data)))

    def _add(self, observed: Observed) -> None:
        handle = self.current
        assert handle is not None
        if observed.step is not None:
            handle.step = observed.step
        handle.events.append(
            EventRecord(
                observed.kind, observed.t - self.t0, handle.index, handle.step, observed.data
            )
        )

    def watch(self, events: Iterable[T]) -> Iterator[T]:
        """Pass a stream of events through, recording each one."""
        for event in events:
            self.record(event)
            yield event
