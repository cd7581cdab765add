"""Engine events -> `Observed` records: one adapter per event type, a generic one for the rest.

The generic adapter takes any dataclass with a monotonic `t` (and optionally a `step`):
its kind is the class name in snake_case and its other fields are the data. Agent run
events (RunStarted, ToolCall, FinalAnswer ...) are recorded by it as they are; the two that
carry their own start time (GenerationTimed, MemoryQuery) have adapters in agent_adapters.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from engine.agent.events import GenerationTimed, MemoryQuery
from engine.llm.events import GenerationFinished, TokenDelta
from engine.telemetry import agent_adapters
from engine.telemetry.records import Observed, json_safe

Adapter = Callable[[Any], list[Observed]]


def _token(event: TokenDelta) -> list[Observed]:
    data = {"index": event.index, "token_id": event.token_id, "text": event.text}
    return [Observed("token", event.t, data)]


def _finished(event: GenerationFinished) -> list[Observed]:
    end = {"text": event.text, "stop_reason": event.stop_reason, "token_ids": list(event.token_ids)}
    return agent_adapters.generation_records(event.stats, event.t, end)


ADAPTERS: dict[type, Adapter] = {
    TokenDelta: _token,
    GenerationFinished: _finished,
    GenerationTimed: agent_adapters.generation,
    MemoryQuery: agent_adapters.memory_query,
}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def generic(event: Any) -> list[Observed]:
    """Any dataclass with a monotonic `t`: kind from its class name, fields as data."""
    t = getattr(event, "t", None)
    if not dataclasses.is_dataclass(event) or not isinstance(t, int | float):
        raise TypeError(
            f"cannot record a {type(event).__name__}: events need to be dataclasses with a "
            "monotonic timestamp `t`"
        )
    step = getattr(event, "step", None)
    data = {
        f.name: json_safe(getattr(event, f.name))
        for f in dataclasses.fields(event)
        if f.name not in ("t", "step")
    }
    return [
        Observed(
            snake(type(event).__name__), float(t), data, step if isinstance(step, int) else None
        )
    ]


def adapt(event: Any) -> list[Observed]:
    for cls in type(event).__mro__:
        adapter = ADAPTERS.get(cls)
        if adapter is not None:
            return adapter(event)
    return generic(event)
