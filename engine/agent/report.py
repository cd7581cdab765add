"""A finished run's events as the `agent run --json` object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.agent import events as ev


def summarize(events: Iterable[ev.RunEvent]) -> dict[str, Any]:
    """{"final_answer", "steps", "stop_reason", "metrics", ...}; each tool step has tool,
    arguments, valid and result (None when it never ran)."""
    steps: list[dict[str, Any]] = []
    out: dict[str, Any] = {"final_answer": None, "steps": steps, "stop_reason": None}
    out.update(plan=None, reflections=[], memory=[], errors=[], transcript=None, run_id=None)
    for event in events:
        if isinstance(event, ev.RunStarted):
            out.update(transcript=event.transcript, run_id=event.run_id)
        elif isinstance(event, ev.ToolCall):
            steps.append(
                {
                    "step": event.step,
                    "kind": "tool" if event.valid else "invalid",
                    "thought": event.thought,
                    "tool": event.tool,
                    "arguments": event.arguments,
                    "valid": event.valid,
                    "problems": list(event.problems),
                    "accepted": False,
                    "result": None,
                }
            )
        elif isinstance(event, ev.ToolResult) and steps and steps[-1]["result"] is None:
            steps[-1]["accepted"] = event.ok
            steps[-1]["result"] = {
                "ok": event.ok,
                "output": event.output,
                "error_kind": event.error_kind,
                "duration_s": round(event.duration_s, 6),
            }
        elif isinstance(event, ev.FinalAnswer):
            steps.append(
                {
                    "step": event.step,
                    "kind": "final",
                    "thought": event.thought,
                    "answer": event.text,
                    "valid": True,
                    "forced": event.forced,
                }
            )
        elif isinstance(event, ev.PlanStep) and event.status == "planned":
            out["plan"] = {"steps": list(event.plan), "edited": event.edited}
        elif isinstance(event, ev.Reflection):
            out["reflections"].append(
                {"critique": event.critique, "lesson": event.lesson, "verdict": event.verdict}
            )
        elif isinstance(event, ev.MemoryHit):
            out["memory"].append(
                {
                    "step": event.step,
                    "query": event.query,
                    "tokens_used": event.tokens_used,
                    "items": [
                        {"id": m.id, "kind": m.kind, "text": m.text, "score": round(m.score, 6)}
                        for m in event.items
                    ],
                }
            )
        elif isinstance(event, ev.RunError):
            out["errors"].append({"kind": event.kind, "message": event.message})
        elif isinstance(event, ev.RunFinished):
            out.update(
                final_answer=event.final_answer,
                stop_reason=event.stop_reason,
                metrics=event.metrics.to_dict(),
            )
    return out
