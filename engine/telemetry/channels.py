"""What a counter source is to the sampler: named channels with units, read together.

The GPU readers (gpu_*.py) and the CPU/memory sources (sources.py) build on this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Channel:
    name: str
    unit: str


class Source(Protocol):
    """What the sampler needs from a counter source."""

    name: str
    channels: tuple[Channel, ...]
    available: bool
    reason: str  # why not available ("" when it is)

    def read(self) -> Sequence[float]: ...
