"""TimelineData: the window's event feeds split into runs, spans from the engine's rules."""

from __future__ import annotations

from engine.agent.events import RunFinished, RunMetrics, ToolCall, ToolResult
from engine.agent.events import TokenDelta as AgentToken
from gui.timeline_data import TimelineData, thin_tokens
from tests.helpers.agent_events import Unknown, agent_run


def test_agent_events_become_engine_spans() -> None:
    data = TimelineData(t0=100.0)
    for event in agent_run(101.0):
        data.on_agent_events([event])
    data.on_agent_events([Unknown()])  # ignored
    assert not data.live and len(data.runs) == 1
    spans = data.spans(now=5.0)
    kinds = {(s.kind, s.name) for s in spans}
    assert ("tool", "calc") in kinds and ("agent_run", "agent_run") in kinds
    tool = next(s for s in spans if s.kind == "tool")
    assert abs(tool.start - 1.5) < 1e-9 and abs(tool.end - 1.9) < 1e-9
    subtasks = sorted((s for s in spans if s.kind == "subtask"), key=lambda s: s.start)
    assert [s.incomplete for s in subtasks] == [False, True]  # closed at the run's end
    assert abs(subtasks[1].end - 2.6) < 1e-9
    assert {s.name for s in spans if s.kind == "step"} == {"step 0", "step 1", "step 2"}
    assert [p.kind for p in data.points()] == ["plan_step", "memory_hit", "final_answer"]


def test_an_open_run_grows_with_the_clock() -> None:
    data = TimelineData(t0=0.0)
    for event in agent_run(1.0)[:6]:  # up to the tool call: tool still running
        data.on_agent_events([event])
    assert data.live
    tool = next(s for s in data.spans(now=3.0) if s.kind == "tool")
    assert tool.incomplete and tool.end == 3.0
    tool = next(s for s in data.spans(now=4.0) if s.kind == "tool")
    assert tool.end == 4.0


def test_runs_are_capped() -> None:
    data = TimelineData(t0=0.0, max_runs=3)
    for i in range(10):
        data.on_generation_started(float(i))
    assert len(data.runs) == 3 and data.count == 10


def _tokens_run(t0: float) -> list[object]:
    """An agent run whose steps are mostly tokens (what the window gets in batches)."""
    events: list[object] = [agent_run(t0)[0]]
    for step in (0, 1):
        events += [AgentToken(t0 + step + 0.01 * (i + 1), step, f"w{i}") for i in range(40)]
        events.append(ToolCall(t0 + step + 0.5, step, "calc", {"expr": "1"}))
        events.append(ToolResult(t0 + step + 0.6, step, "calc", True, "1", duration_s=0.1))
    events += [AgentToken(t0 + 2.0 + 0.01 * i, 2, "x") for i in range(30)]
    events.append(RunFinished(t0 + 2.5, 2, "final_answer", "1", RunMetrics()))
    return events


def test_thinning_tokens_keeps_every_span_exactly() -> None:
    """Batches keep only the first and last token of each run of tokens; the spans (step
    edges included) are the same as from every event one by one."""
    events = _tokens_run(10.0)
    one_by_one, batched = TimelineData(t0=0.0), TimelineData(t0=0.0)
    for event in events:
        one_by_one.on_agent_events([event])
    for i in range(0, len(events), 7):  # batches cut anywhere, also inside a token run
        batched.on_agent_events(events[i : i + 7])
    kept = thin_tokens(events)
    assert len(kept) < len(events) // 3
    assert kept[0] is events[0] and kept[-1] is events[-1]

    def key(data: TimelineData) -> list[tuple[object, ...]]:
        return sorted((s.kind, s.name, s.start, s.end, s.incomplete) for s in data.spans(99.0))

    assert key(batched) == key(one_by_one)
    steps = sorted((s.start, s.end) for s in batched.spans(99.0) if s.kind == "step")
    assert steps[2] == (12.0, 12.5)  # step 2: its first token to the run's end
