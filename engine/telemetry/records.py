"""What a profiling session stores: generic timed events and the spans built from them.

Any engine event (a generation's tokens, an agent run's steps) becomes an `EventRecord`:
a kind, a run, a step, a time in seconds since the session started, and JSON-safe data.
Spans (`SpanRecord`) are derived from begin/end pairs of records (see spans.py).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Observed:
    """One adapted event before the recorder places it: absolute monotonic time."""

    kind: str
    t: float
    data: dict[str, Any] = field(default_factory=dict)
    step: int | None = None


@dataclass(frozen=True)
class EventRecord:
    kind: str
    t: float  # seconds since the session's start (monotonic clock)
    run: int
    step: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "t": self.t,
            "run": self.run,
            "step": self.step,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventRecord:
        return cls(str(d["kind"]), float(d["t"]), int(d["run"]), int(d["step"]), dict(d["data"]))


@dataclass(frozen=True)
class SpanRecord:
    name: str  # what a timeline shows ("prefill", a tool's name, "step 2")
    kind: str  # the rule that made it: run, step, generation, prefill, decode, tool...
    run: int
    step: int
    start: float
    end: float
    incomplete: bool = False  # its end never came (cancelled, crashed): closed at run end

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpanRecord:
        return cls(
            str(d["name"]),
            str(d["kind"]),
            int(d["run"]),
            int(d["step"]),
            float(d["start"]),
            float(d["end"]),
            bool(d.get("incomplete", False)),
        )


def json_safe(value: Any) -> Any:
    """Data as JSON can hold it: dataclasses and tuples unfold, NaN becomes None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is None or isinstance(value, str | int | bool):
        return value
    if hasattr(value, "item"):  # NumPy scalars
        return json_safe(value.item())
    return str(value)
