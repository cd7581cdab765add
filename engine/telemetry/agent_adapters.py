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

from engine.agent.events import GenerationTimed, MemoryQuery
from engine.telemetry.records import Observed

STATS = (
    "prompt_tokens",
    "cached_tokens",
    "new_tokens",
    "ttft_ms",
    "prefill_ms",
    "prefill_tok_s",
    "decode_ms",
    "decode_tok_s",
    "peak_rss_mb",
)


def generation(event: GenerationTimed) -> list[Observed]:
    stats = {key: getattr(event, key) for key in STATS}
    stats.update(
        token_latencies_ms=list(event.token_latencies_ms),
        t_start=event.started_t,
        t_first_token=event.first_token_t,
        t_end=event.t,
    )
    name = f"generate:{event.phase}"
    begin = {
        "prompt_tokens": event.prompt_tokens,
        "cached_tokens": event.cached_tokens,
        "phase": event.phase,
        "name": name,
    }
    end = {"phase": event.phase, "stop_reason": event.stop_reason, "stats": stats}
    prepare: list[Observed] = []
    if event.requested_t < event.started_t:  # prompt rendering, grammar compilation
        asked = {"phase": event.phase}
        prepare.append(Observed("generation_requested", event.requested_t, asked, event.step))
    return [
        *prepare,
        Observed("generation_started", event.started_t, begin, event.step),
        Observed("prefill_finished", event.first_token_t, {"phase": event.phase}, event.step),
        Observed("generation_finished", event.t, end, event.step),
    ]


def memory_query(event: MemoryQuery) -> list[Observed]:
    begin = {"query": event.query, "top_k": event.top_k}
    return [
        Observed("memory_query", event.started_t, begin, event.step),
        Observed("memory_query_finished", event.t, {"hits": event.hits}, event.step),
    ]
