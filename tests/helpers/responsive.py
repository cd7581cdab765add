"""Whether this process stays responsive while a tool call runs (no thread starved of the GIL)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def ticking(every_s: float = 0.05) -> Iterator[list[float]]:
    """A thread that records a time stamp every `every_s` while the block runs."""
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every_s):
            ticks.append(time.monotonic())

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield ticks
    finally:
        stop.set()
        thread.join(timeout=5)


def longest_gap(ticks: list[float]) -> float:
    """The longest time between two ticks (how long the process was unresponsive)."""
    return max((b - a for a, b in itertools.pairwise(ticks)), default=float("inf"))
