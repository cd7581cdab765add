"""RingBuffer: wrap-around order and a concurrent writer with readers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.telemetry.ring import RingBuffer


def test_keeps_the_last_rows_in_order() -> None:
    ring = RingBuffer(capacity=5, channels=2)
    assert len(ring) == 0 and ring.latest() is None
    for i in range(12):
        ring.append(float(i), [i, -i])
    t, v = ring.snapshot()
    assert t.tolist() == [7, 8, 9, 10, 11]
    assert v[:, 1].tolist() == [-7, -8, -9, -10, -11]
    t, _ = ring.snapshot(last=2)
    assert t.tolist() == [10, 11]
    assert ring.total_written == 12 and len(ring) == 5
    latest = ring.latest()
    assert latest is not None and latest[0] == 11.0


def test_rejects_the_wrong_number_of_values() -> None:
    ring = RingBuffer(4, 3)
    with pytest.raises(ValueError, match="expected 3 values"):
        ring.append(0.0, [1.0])
    with pytest.raises(ValueError):
        RingBuffer(0, 1)


def test_concurrent_writer_and_readers_see_consistent_rows() -> None:
    ring = RingBuffer(capacity=257, channels=3)
    stop = threading.Event()
    problems: list[str] = []

    def writer() -> None:
        for i in range(50_000):
            ring.append(float(i), [i, 2 * i, 3 * i])
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            t, v = ring.snapshot()
            if len(t) > 1 and not np.all(np.diff(t) == 1):
                problems.append("timestamps not consecutive")
            if len(t) and not (np.array_equal(v[:, 0], t) and np.array_equal(v[:, 2], 3 * t)):
                problems.append("a row mixes two writes")

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not problems, problems[:3]
    assert ring.total_written == 50_000
