"""`RunMetrics`: what one recorded run measured, from its events and spans alone.

A run holds any number of generations (one for `generate`, several for an agent run):
TTFT is the first generation's; prefill and decode rates are totals over all of them;
the inter-token distribution pools every token gap. Per-step durations and tokens per
step come from the step spans and token events, so agent runs need nothing extra.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from engine.telemetry.metrics import LatencySummary
from engine.telemetry.records import EventRecord, SpanRecord

TOKEN_KINDS = frozenset({"token", "token_delta"})
ANSWER_KINDS = ("final_answer",)


@dataclass(frozen=True)
class StepMetrics:
    step: int
    ms: float
    tokens: int


@dataclass(frozen=True)
class Quality:
    """Signals a comparison can check: the answer, and whether tool calls were valid."""

    final_answer: str | None
    tool_calls: int
    tool_calls_valid: int
    errors: int


@dataclass(frozen=True)
class RunMetrics:
    duration_ms: float
    generations: int
    prompt_tokens: int
    new_tokens: int
    ttft_ms: float | None
    prefill_tok_s: float | None
    decode_tok_s: float | None
    inter_token: LatencySummary
    peak_rss_mb: float | None
    steps: tuple[StepMetrics, ...]
    durations: dict[str, LatencySummary]  # span kind -> distribution of its durations
    quality: Quality

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, events: Sequence[EventRecord], spans: Sequence[SpanRecord]) -> RunMetrics:
        stats = [e.data["stats"] for e in events if e.kind == "generation_finished"]
        latencies = [ms for st in stats for ms in st.get("token_latencies_ms", [])]
        prefilled = sum(st["prompt_tokens"] - st["cached_tokens"] for st in stats)
        prefill_ms = sum(st["prefill_ms"] for st in stats)
        decode_ms = sum(st["decode_ms"] for st in stats)
        tokens = Counter(e.step for e in events if e.kind in TOKEN_KINDS and _real_token(e))
        run_spans = [s for s in spans if s.kind == "run"]
        by_kind: dict[str, list[float]] = defaultdict(list)
        for span in spans:
            if span.kind != "run":
                by_kind[span.kind].append(span.ms)
        times = [e.t for e in events]
        duration = (
            run_spans[0].ms if run_spans else (max(times) - min(times)) * 1000 if times else 0
        )
        return cls(
            duration_ms=float(duration),
            generations=len(stats),
            prompt_tokens=sum(st["prompt_tokens"] for st in stats),
            new_tokens=sum(st["new_tokens"] for st in stats),
            ttft_ms=stats[0]["ttft_ms"] if stats else None,
            prefill_tok_s=prefilled / (prefill_ms / 1000) if prefill_ms > 0 else None,
            decode_tok_s=len(latencies) / (decode_ms / 1000) if decode_ms > 0 else None,
            inter_token=LatencySummary.of(latencies),
            peak_rss_mb=max((st.get("peak_rss_mb") or 0.0 for st in stats), default=None),
            steps=tuple(
                StepMetrics(s.step, s.ms, tokens.get(s.step, 0)) for s in spans if s.kind == "step"
            ),
            durations={kind: LatencySummary.of(v) for kind, v in sorted(by_kind.items())},
            quality=_quality(events),
        )


def _real_token(event: EventRecord) -> bool:
    """The engine's flush delta at the end (token_id -1) is text, not a token."""
    return event.data.get("token_id", 0) != -1


def _quality(events: Sequence[EventRecord]) -> Quality:
    answer: str | None = None
    for e in events:
        if e.kind in ANSWER_KINDS:
            answer = str(e.data.get("text", e.data.get("answer", "")))
    if answer is None:
        finished = [e for e in events if e.kind == "generation_finished"]
        answer = str(finished[-1].data.get("text", "")) if finished else None
    calls = [e for e in events if e.kind == "tool_call"]
    invalid = sum(1 for e in calls if e.data.get("valid") is False or e.data.get("error"))
    errors = sum(1 for e in events if e.kind == "run_error")
    return Quality(answer, len(calls), len(calls) - invalid, errors)
