"""Fixed-size ring buffers for sampled counters: one writer thread, any number of readers.

Storage is preallocated (NumPy), so a sampler running for hours never allocates; readers
get ordered copies (oldest first) that they can chart without holding a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np


class RingBuffer:
    """The last `capacity` rows of (timestamp, one value per channel)."""

    def __init__(self, capacity: int, channels: int) -> None:
        if capacity < 1 or channels < 1:
            raise ValueError("a ring buffer needs capacity >= 1 and channels >= 1")
        self.capacity = capacity
        self.channels = channels
        self._t = np.zeros(capacity, dtype=np.float64)
        self._v = np.zeros((capacity, channels), dtype=np.float64)
        self._written = 0
        self._lock = threading.Lock()

    def append(self, t: float, values: Sequence[float]) -> None:
        if len(values) != self.channels:
            raise ValueError(f"expected {self.channels} values, got {len(values)}")
        with self._lock:
            i = self._written % self.capacity
            self._t[i] = t
            self._v[i] = values
            self._written += 1

    @property
    def total_written(self) -> int:
        return self._written

    def __len__(self) -> int:
        return min(self._written, self.capacity)

    def snapshot(self, last: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of (timestamps [n], values [n, channels]), oldest first."""
        with self._lock:
            n = min(self._written, self.capacity)
            if last is not None:
                n = min(n, max(0, last))
            end = self._written % self.capacity
            index = (np.arange(end - n, end) % self.capacity) if n else np.arange(0)
            return self._t[index].copy(), self._v[index].copy()

    def latest(self) -> tuple[float, np.ndarray] | None:
        with self._lock:
            if not self._written:
                return None
            i = (self._written - 1) % self.capacity
            return float(self._t[i]), self._v[i].copy()
