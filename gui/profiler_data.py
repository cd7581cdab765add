"""`ProfilerData`: generation metrics kept for the live charts, in preallocated rings.

Fed from generation events in GUI-thread slots; read by the profiler's redraw timer.
A pause (between generations, or tokens/s idle at zero) is marked by one NaN row, so
the chart draws a gap there instead of a line across it.
"""

from __future__ import annotations

import math

from engine.llm.events import GenerationFinished, TokenDelta
from engine.telemetry.metrics import RollingRate
from engine.telemetry.ring import RingBuffer


class ProfilerData:
    def __init__(self, t0: float, seconds: float = 600.0, rate_hz: float = 10.0) -> None:
        self.t0 = t0
        #: (t, tokens/s over the last 2 s), sampled at `rate_hz` by `sample_rate`.
        self.tok_rate = RingBuffer(int(seconds * rate_hz), 1)
        #: (t, inter-token latency in ms), one row per token.
        self.itl = RingBuffer(16384, 1)
        #: (generation number, TTFT ms, decode tok/s), one row per generation (last 120).
        self.generations = RingBuffer(120, 2)
        self.last: GenerationFinished | None = None
        self.rate_hz = rate_hz
        self._rate = RollingRate(2.0)
        self._last_token_t: float | None = None
        self._rate_period = 1.0 / rate_hz
        self._next_rate_t = 0.0
        self._active = False
        self._paused = False  # tokens/s stopped being sampled (idle at zero)

    def on_events(self, events: list[object]) -> None:
        """A batch from `ctx.generation.received`."""
        for event in events:
            self.on_event(event)

    def on_event(self, event: object) -> None:
        if isinstance(event, TokenDelta):
            if event.token_id < 0:  # the detokenizer's final flush, not a token
                return
            self._active = True
            if event.index == 0 and self.itl.total_written:
                # a new generation: no line from the last one's latency across the pause
                self.itl.append(event.t - self.t0, (math.nan,))
            if event.index > 0 and self._last_token_t is not None:
                self.itl.append(event.t - self.t0, ((event.t - self._last_token_t) * 1000.0,))
            self._last_token_t = event.t
            self._rate.add(event.t)
        elif isinstance(event, GenerationFinished):
            self._last_token_t = None
            self._active = False
            self.last = event
            n = self.generations.total_written + 1
            self.generations.append(float(n), (event.stats.ttft_ms, event.stats.decode_tok_s))

    def sample_rate(self, now: float) -> bool:
        """Append the current tokens/s at most `rate_hz` times a second; True if it did."""
        if now < self._next_rate_t:
            return False
        self._next_rate_t = now + self._rate_period
        rate = self._rate.rate(now)
        if rate == 0.0 and not self._active and self.tok_rate.total_written:
            latest = self.tok_rate.latest()
            if latest is not None and latest[1][0] == 0.0:
                self._paused = True
                return False  # idle: no need to add flat zeros forever
        if self._paused:  # the pause had no samples: a gap, not a ramp across it
            self._paused = False
            self.tok_rate.append(now - self.t0, (math.nan,))
        self.tok_rate.append(now - self.t0, (rate,))
        return True
