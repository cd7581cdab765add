"""`HardwareSampler`: a thread reading every available source at a fixed rate into rings."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from engine.telemetry.ring import RingBuffer
from engine.telemetry.sources import Source

THREAD_NAME = "aw-hardware-sampler"


@dataclass(frozen=True)
class SourceStatus:
    name: str
    available: bool
    reason: str
    channels: tuple[str, ...]


class HardwareSampler:
    """Samples each available source at `rate_hz` into one RingBuffer per source.

    A source whose read fails is marked unavailable with the error as its reason; the
    others go on. `cpu_seconds` is the sampler thread's own CPU time, so its cost can be
    reported next to what it measures.
    """

    def __init__(
        self, sources: Sequence[Source], rate_hz: float = 10.0, seconds: float = 300.0
    ) -> None:
        if rate_hz <= 0:
            raise ValueError("rate_hz must be > 0")
        self.sources = list(sources)
        self.rate_hz = rate_hz
        capacity = max(1, int(rate_hz * seconds))
        self.buffers = {
            s.name: RingBuffer(capacity, len(s.channels))
            for s in self.sources
            if s.available and s.channels
        }
        self._errors: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cpu_seconds = 0.0
        self.ticks = 0

    def status(self) -> list[SourceStatus]:
        return [
            SourceStatus(
                s.name,
                s.available and s.name not in self._errors,
                self._errors.get(s.name, s.reason),
                tuple(c.name for c in s.channels),
            )
            for s in self.sources
        ]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> HardwareSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sample_once(self) -> None:
        now = time.monotonic()
        for source in self.sources:
            buffer = self.buffers.get(source.name)
            if buffer is None or source.name in self._errors:
                continue
            try:
                buffer.append(now, source.read())
            except Exception as exc:  # noqa: BLE001 - a broken counter must not stop the rest
                self._errors[source.name] = f"read failed: {exc}"
        self.ticks += 1

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        start_cpu = time.thread_time()
        next_tick = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            self.cpu_seconds = time.thread_time() - start_cpu
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay < 0:  # fell behind (a suspended laptop, a busy machine): resync
                next_tick = time.monotonic()
                delay = 0
            self._stop.wait(delay)
