"""Spans from begin/end pairs of recorded events, and one span per step.

A `SpanRule` names the event kind that opens a span and the kinds that close it (a kind
may be narrowed by one data field: `plan_step[status=started]`); an optional `key` pairs
them when several are open at once (the tool's name, a subtask's index), otherwise the
most recent open one closes first. A begin whose end never came is closed at the run's
end and marked incomplete, so a cancelled run still draws (and exports) correctly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.telemetry.records import EventRecord, SpanRecord

#: The recorder's own markers around each run.
RUN_BEGIN, RUN_END = "run_begin", "run_end"


@dataclass(frozen=True)
class SpanRule:
    kind: str
    begin: str
    ends: tuple[str, ...]
    key: str | None = None  # data field pairing a begin with its end
    label: str | None = None  # data field of the begin naming the span
    drawn: bool = True  # its begin/end events are drawn as the span, not as points


SPAN_RULES: tuple[SpanRule, ...] = (
    SpanRule("run", RUN_BEGIN, (RUN_END,), label="label"),
    SpanRule("agent_run", "run_started", ("run_finished", "run_error")),
    SpanRule("load", "model_load_started", ("model_load_finished",), label="model"),
    SpanRule("generation", "generation_started", ("generation_finished",), label="name"),
    SpanRule("prefill", "generation_started", ("prefill_finished",)),
    SpanRule("prepare", "generation_requested", ("generation_started",)),
    SpanRule("decode", "prefill_finished", ("generation_finished",)),
    SpanRule("tool", "tool_call", ("tool_result",), key="tool", label="tool"),
    SpanRule("subtask", "plan_step[status=started]", ("plan_step[status=done]",), key="index"),
    SpanRule("retrieval", "memory_query", ("memory_query_finished",)),
    # an agent's plan: its generation and the edit_plan hook, until the plan is final
    # (the plan itself stays a point event: it carries the plan)
    SpanRule(
        "planning", "generation_started[phase=plan]", ("plan_step[status=planned]",), drawn=False
    ),
)


def matches(event: EventRecord, pattern: str) -> bool:
    """`kind` or `kind[field=value]` (the value compared as text)."""
    kind, _, condition = pattern.partition("[")
    if event.kind != kind:
        return False
    if not condition:
        return True
    name, _, value = condition.rstrip("]").partition("=")
    return str(event.data.get(name)) == value


def is_span_event(event: EventRecord, rules: Sequence[SpanRule] = SPAN_RULES) -> bool:
    """Whether the event opens or closes a span (a timeline draws the span, not the point)."""
    if event.kind in (RUN_BEGIN, RUN_END):
        return True
    return any(matches(event, p) for rule in rules if rule.drawn for p in (rule.begin, *rule.ends))


def build_spans(
    events: Sequence[EventRecord],
    run_end: float,
    rules: Sequence[SpanRule] = SPAN_RULES,
    steps: bool = True,
) -> list[SpanRecord]:
    """All spans of one run's events (sorted by start)."""
    spans: list[SpanRecord] = []
    open_: dict[tuple[int, object], list[EventRecord]] = {}
    ordered = sorted(events, key=lambda e: e.t)
    for ev in ordered:
        for i, rule in enumerate(rules):
            if any(matches(ev, end) for end in rule.ends):
                stack = open_.get((i, ev.data.get(rule.key) if rule.key else None))
                if stack:
                    spans.append(_span(rule, stack.pop(), ev.t))
        for i, rule in enumerate(rules):
            if matches(ev, rule.begin):
                key = ev.data.get(rule.key) if rule.key else None
                open_.setdefault((i, key), []).append(ev)
    for (i, _), stack in open_.items():
        for begin in stack:
            spans.append(_span(rules[i], begin, max(run_end, begin.t), incomplete=True))
    if steps:
        spans.extend(step_spans(ordered))
    spans.sort(key=lambda s: (s.start, -s.end))
    return spans


def _span(rule: SpanRule, begin: EventRecord, end: float, incomplete: bool = False) -> SpanRecord:
    name = str(begin.data.get(rule.label) or rule.kind) if rule.label else rule.kind
    return SpanRecord(name, rule.kind, begin.run, begin.step, begin.t, end, incomplete)


def step_spans(events: Sequence[EventRecord]) -> list[SpanRecord]:
    """One span per (run, step): from its first to its last event."""
    bounds: dict[tuple[int, int], tuple[float, float]] = {}
    for ev in events:
        if ev.kind in (RUN_BEGIN, RUN_END):
            continue
        lo, hi = bounds.get((ev.run, ev.step), (ev.t, ev.t))
        bounds[(ev.run, ev.step)] = (min(lo, ev.t), max(hi, ev.t))
    return [
        SpanRecord(f"step {step}", "step", run, step, lo, hi)
        for (run, step), (lo, hi) in sorted(bounds.items())
    ]
