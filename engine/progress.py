"""Progress events and cancellation for long work (terminal bar now, a widget later)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from engine.errors import Cancelled
from engine.printable import printable


@dataclass(frozen=True)
class Progress:
    """One progress report: `done` of `total` units of `stage` (total 0 = unknown)."""

    stage: str
    done: float
    total: float
    message: str = ""
    t: float = 0.0

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """A flag long work checks between units; `cancel()` from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


class Reporter:
    """Sends progress to a callback and checks cancellation at every report."""

    def __init__(
        self, callback: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> None:
        self.callback = callback
        self.cancel = cancel or CancelToken()

    def __call__(self, stage: str, done: float = 0, total: float = 0, message: str = "") -> None:
        self.cancel.check()
        if self.callback is not None:
            self.callback(Progress(stage, done, total, message, time.monotonic()))


class TerminalProgress:
    """A progress bar on stderr: one line per stage, redrawn in place on a terminal; on a
    pipe or a log file, a line when a stage starts and when it ends. The elapsed time is
    the stage's own, from its first report."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._stage = ""  # the stage being reported
        self._start = time.monotonic()  # when that stage was first reported
        self._open = False  # a terminal line is drawn and not ended yet
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, p: Progress) -> None:
        if p.stage != self._stage:
            self._end_line()
            self._stage = p.stage
            self._start = time.monotonic()
        elapsed = time.monotonic() - self._start
        frac = p.fraction
        if frac is not None:
            filled = int(self.width * min(frac, 1.0))
            bar = "#" * filled + "-" * (self.width - filled)
            line = f"{p.stage:<12} [{bar}] {frac * 100:5.1f}% {elapsed:6.1f}s {p.message}"
        else:
            line = f"{p.stage:<12} {elapsed:6.1f}s {p.message}"
        # the message may name a stranger's file: one line, its control characters escaped
        line = printable(line).replace("\n", " ")
        if self._tty:
            self.stream.write("\r" + line[:120].ljust(120))
            self._open = True
        elif frac is None or frac >= 1.0 or p.done == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False

    def close(self) -> None:
        self._end_line()

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
