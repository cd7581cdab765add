"""A scripted agent run's events, and an event type the window does not know."""

from __future__ import annotations

from engine.agent.events import (
    FinalAnswer,
    MemoryHit,
    PlanStep,
    RunFinished,
    RunMetrics,
    RunStarted,
    ToolCall,
    ToolResult,
)
from engine.agent.events import TokenDelta as AgentToken


def agent_run(t0: float) -> list[object]:
    """A scripted plan_execute run: plan, subtask 0 with a tool call, memory hit, answer."""
    plan = ("look it up", "answer")
    return [
        RunStarted(t0, 0, "r1", "helper", "capital of France?", "plan_execute", "tiny", ("calc",),
                   None),
        PlanStep(t0 + 0.1, 0, plan),
        MemoryHit(t0 + 0.15, 0, "france", "Paris is the capital", 0.9),
        PlanStep(t0 + 0.2, 1, plan, status="started", index=0),
        AgentToken(t0 + 0.3, 1, "thinking"),
        ToolCall(t0 + 0.5, 1, "calc", {"expr": "1+1"}),
        ToolResult(t0 + 0.9, 1, "calc", True, "2", duration_s=0.4),
        PlanStep(t0 + 1.0, 1, plan, status="done", index=0, result="2"),
        PlanStep(t0 + 1.1, 2, plan, status="started", index=1),  # never finishes
        FinalAnswer(t0 + 1.5, 2, "Paris"),
        RunFinished(t0 + 1.6, 2, "final_answer", "Paris", RunMetrics()),
    ]  # fmt: skip


class Unknown:  # not a dataclass: an event type the window does not know
    t = 0.0
