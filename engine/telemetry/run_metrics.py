"""`RunMetrics`: what one recorded run measured, from its events and spans alone.

A run holds any number of generations (one for `generate`, several for an agent run):
TTFT is the first generation's; prefill and decode rates are totals over all of them;
the inter-token distribution pools every token gap; `per_generation` has each one's own.
Per-step durations, the time inside each step by span kind and tokens per step come from
the spans and generation records (an agent run's GenerationTimed events).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.llm.events import GenerationStats
from engine.llm.stats import LatencySummary
from engine.telemetry.records import EventRecord, SpanRecord, json_safe

TOKEN_KINDS = frozenset({"token", "token_delta"})
ANSWER_KINDS = ("final_answer",)


#: Spans not counted as a part of one step (they hold steps, or span several).
NOT_PARTS = frozenset({"run", "step", "agent_run", "subtask"})


@dataclass(frozen=True)
class StepMetrics:
    """One step: its duration, tokens generated, and the time inside it by span kind
    (generation, prefill, decode, tool, retrieval, planning, load), each tool it called."""

    step: int
    ms: float
    tokens: int
    phase: str = ""  # of its generation: step | plan | reflect ("" for a plain generation)
    parts_ms: dict[str, float] = field(default_factory=dict)
    tools: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationTiming:
    """One generation of the run (an agent run has one per step, plan or critique): the
    engine's stats as recorded, placed in the run."""

    step: int
    phase: str
    start: float  # seconds since the session start
    stop_reason: str
    stats: GenerationStats

    @property
    def ms(self) -> float:
        return (self.stats.t_end - self.stats.t_start) * 1000

    @classmethod
    def of(cls, event: EventRecord) -> GenerationTiming:
        stats = GenerationStats.from_dict(event.data["stats"])
        return cls(
            step=event.step,
            phase=str(event.data.get("phase", "")),
            start=event.t - (stats.t_end - stats.t_start),
            stop_reason=str(event.data.get("stop_reason", "")),
            stats=stats,
        )

    def to_dict(self) -> dict[str, Any]:
        """The session file's `per_generation` row (flat)."""
        st = self.stats
        return {
            "step": self.step,
            "phase": self.phase,
            "start": self.start,
            "ms": self.ms,
            "prompt_tokens": st.prompt_tokens,
            "cached_tokens": st.cached_tokens,
            "new_tokens": st.new_tokens,
            "ttft_ms": st.ttft_ms,
            "prefill_tok_s": st.prefill_tok_s,
            "decode_tok_s": st.decode_tok_s,
            "inter_token": asdict(st.inter_token()),
            "stop_reason": self.stop_reason,
        }


@dataclass(frozen=True)
class Quality:
    """Signals a comparison can check: the answer, and whether tool calls were valid."""

    final_answer: str | None
    tool_calls: int
    tool_calls_valid: int
    errors: int
    stop_reason: str | None = None  # an agent run's (run_finished), else None


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
    ttft: LatencySummary  # over the run's generations (the first is `ttft_ms`)
    per_generation: tuple[GenerationTiming, ...]

    def to_dict(self) -> dict[str, Any]:
        """As the session file holds it (lists, not tuples): the same before and after saving."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["per_generation"] = [g.to_dict() for g in self.per_generation]
        out: dict[str, Any] = json_safe(data)
        return out

    @classmethod
    def of(cls, events: Sequence[EventRecord], spans: Sequence[SpanRecord]) -> RunMetrics:
        finished = [e for e in events if e.kind == "generation_finished"]
        stats = [e.data["stats"] for e in finished]
        latencies = [ms for st in stats for ms in st.get("token_latencies_ms", [])]
        prefilled = sum(st["prompt_tokens"] - st["cached_tokens"] for st in stats)
        prefill_ms = sum(st["prefill_ms"] for st in stats)
        decode_ms = sum(st["decode_ms"] for st in stats)
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
            steps=_steps(events, spans),
            durations={kind: LatencySummary.of(v) for kind, v in sorted(by_kind.items())},
            quality=_quality(events),
            ttft=LatencySummary.of([st["ttft_ms"] for st in stats]),
            per_generation=tuple(GenerationTiming.of(e) for e in finished),
        )


def _steps(events: Sequence[EventRecord], spans: Sequence[SpanRecord]) -> tuple[StepMetrics, ...]:
    """Tokens per step are the generations' token counts when the run has generation
    timings (a token whose text was empty still counts), else its token events."""
    finished = [e for e in events if e.kind == "generation_finished"]
    tokens: Counter[int] = Counter()
    if finished:
        for e in finished:
            tokens[e.step] += int(e.data["stats"]["new_tokens"])
    else:
        tokens.update(e.step for e in events if e.kind in TOKEN_KINDS and _real_token(e))
    starts = [e for e in events if e.kind == "generation_started" and "phase" in e.data]
    phases = {e.step: str(e.data["phase"]) for e in starts}
    parts: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tools: dict[int, list[str]] = defaultdict(list)
    for span in spans:
        if span.kind not in NOT_PARTS:
            parts[span.step][span.kind] += span.ms
        if span.kind == "tool":
            tools[span.step].append(span.name)
    return tuple(
        StepMetrics(
            s.step,
            s.ms,
            tokens.get(s.step, 0),
            phases.get(s.step, ""),
            dict(sorted(parts[s.step].items())),
            tuple(tools[s.step]),
        )
        for s in sorted((s for s in spans if s.kind == "step"), key=lambda s: s.step)
    )


def _real_token(event: EventRecord) -> bool:
    """The engine's flush delta at the end (token_id -1) is text, not a token."""
    return event.data.get("token_id", 0) != -1


def _quality(events: Sequence[EventRecord]) -> Quality:
    answer: str | None = None
    for e in events:
        if e.kind in ANSWER_KINDS:
            answer = str(e.data.get("text", e.data.get("answer", "")))
    ended = [e for e in events if e.kind == "run_finished"]
    if ended and "final_answer" in ended[-1].data:  # an agent run's own (None: never answered)
        final = ended[-1].data.get("final_answer")
        answer = None if final is None else str(final)
    elif answer is None:
        finished = [e for e in events if e.kind == "generation_finished"]
        answer = str(finished[-1].data.get("text", "")) if finished else None
    calls = [e for e in events if e.kind == "tool_call"]
    invalid = sum(1 for e in calls if e.data.get("valid") is False or e.data.get("error"))
    errors = sum(1 for e in events if e.kind == "run_error")
    stop = str(ended[-1].data.get("stop_reason")) if ended else None
    return Quality(answer, len(calls), len(calls) - invalid, errors, stop)
