"""Agent run events that carry a start time of their own: recorded as begin/end pairs.

Every other agent event (RunStarted, ToolCall, FinalAnswer ...) goes through the generic
adapter. A `GenerationTimed` becomes the same three records as the engine's
GenerationFinished (`generation_started` at its start, `prefill_finished` at its first
token, `generation_finished` with its stats), so an agent run's generations, prefill and
decode spans and its TTFT and rates come out exactly as a plain generation's do; before
them a `generation_requested` when the loop asked earlier than the engine began (the
`prepare` span: prompt rendering, grammar compilation). A `MemoryQuery` becomes
`memory_query` (the retrieval's start) and `memory_query_finished`.
"""

from __future__ import annotations

from typing import Any

from engine.agent.events import GenerationTimed, MemoryQuery
from engine.llm.events import GenerationStats
from engine.telemetry.records import Observed, json_safe


def generation(event: GenerationTimed) -> list[Observed]:
    st = event.stats
    prepare: list[Observed] = []
    if event.requested_t < st.t_start:  # prompt rendering, grammar compilation
        asked = {"phase": event.phase}
        prepare.append(Observed("generation_requested", event.requested_t, asked, event.step))
    end = {"phase": event.phase, "stop_reason": event.stop_reason}
    return [*prepare, *generation_records(st, event.t, end, event.phase, event.step)]


def generation_records(
    st: GenerationStats,
    end_t: float,
    end: dict[str, Any],
    phase: str = "",
    step: int | None = None,
) -> list[Observed]:
    """One generation as three records: started (prefill), prefill finished (first token),
    finished (`end` plus the stats, flattened for the session file)."""
    begin: dict[str, Any] = {"prompt_tokens": st.prompt_tokens, "cached_tokens": st.cached_tokens}
    first: dict[str, Any] = {}
    if phase:
        begin.update(phase=phase, name=f"generate:{phase}")
        first["phase"] = phase
    stats = json_safe(st.to_dict(latencies=True))
    return [
        Observed("generation_started", st.t_start, begin, step),
        Observed("prefill_finished", st.t_first_token, first, step),
        Observed("generation_finished", end_t, {**end, "stats": stats}, step),
    ]


def memory_query(event: MemoryQuery) -> list[Observed]:
    begin = {"query": event.query, "top_k": event.top_k}
    return [
        Observed("memory_query", event.started_t, begin, event.step),
        Observed("memory_query_finished", event.t, {"hits": event.hits}, event.step),
    ]
