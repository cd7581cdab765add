"""What one agent run did, in the terms the checks and the result set use.

`collect(events)` folds a run's events (engine.agent.events) into a `RunOutcome`: the
answer, how the run stopped, its steps and tool calls (valid = the call parsed and named
a tool of the agent; accepted = it ran and its result was not an error), tokens, the
first generation's time to first token, the latency, and the spans (model generations
and tool calls, seconds from the run's start) that the OpenTelemetry export draws.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.agent import events as ev


@dataclass
class ToolUse:
    tool: str
    arguments: dict[str, Any]
    valid: bool
    accepted: bool = False  # it ran and returned a result that is not an error
    error_kind: str | None = None


@dataclass
class RunOutcome:
    answer: str | None = None
    stop_reason: str = "error"
    steps: int = 0
    tool_calls: list[ToolUse] = field(default_factory=list)
    prompt_tokens: int = 0
    generated_tokens: int = 0
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    transcript: str | None = None
    run_id: str = ""
    model: str = ""
    errors: list[str] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)

    @property
    def valid_calls(self) -> list[ToolUse]:
        return [c for c in self.tool_calls if c.valid]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect(events: Iterable[ev.RunEvent]) -> RunOutcome:
    out = RunOutcome()
    start: float | None = None
    for event in events:
        if start is None:
            start = event.t
        if isinstance(event, ev.RunStarted):
            out.transcript, out.run_id, out.model = event.transcript, event.run_id, event.model
        elif isinstance(event, ev.ToolCall):
            out.tool_calls.append(ToolUse(event.tool, dict(event.arguments), event.valid))
        elif isinstance(event, ev.ToolResult):
            last = out.tool_calls[-1] if out.tool_calls else None
            if last is not None and last.valid:
                last.accepted, last.error_kind = event.ok, event.error_kind
            began = event.t - event.duration_s
            out.spans.append(
                {
                    "kind": "tool",
                    "name": event.tool,
                    "start_s": began - start,
                    "end_s": event.t - start,
                    "ok": event.ok,
                    "error_kind": event.error_kind,
                }
            )
        elif isinstance(event, ev.GenerationTimed):
            s = event.stats
            if out.ttft_ms is None:
                out.ttft_ms = round(s.ttft_ms, 3)
            out.spans.append(
                {
                    "kind": "chat",
                    "name": event.phase,
                    "start_s": event.requested_t - start,
                    "end_s": s.t_end - start,
                    "input_tokens": s.prompt_tokens,
                    "output_tokens": s.new_tokens,
                    "ttft_ms": s.ttft_ms,
                    "stop_reason": event.stop_reason,
                }
            )
        elif isinstance(event, ev.RunError):
            out.errors.append(f"{event.kind}: {event.message}")
        elif isinstance(event, ev.RunFinished):
            m = event.metrics
            out.answer, out.stop_reason = event.final_answer, event.stop_reason
            out.steps, out.prompt_tokens = m.steps, m.prompt_tokens
            out.generated_tokens = m.generated_tokens
            out.latency_ms = round(m.wall_s * 1000, 3)
            if out.ttft_ms is None and m.ttft_ms:
                out.ttft_ms = round(m.ttft_ms[0], 3)
    return out
