"""The profiler's run timeline: scripted agent events (engine.agent.events) draw spans."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication

from gui.widgets.timeline import ROWS, span_color
from tests.gui.panels.test_profiler import _generation, _profiler, count_color
from tests.gui.test_timeline_data import agent_run


def test_agent_events_draw_spans_in_the_timeline(ctx, qtbot) -> None:
    panel = _profiler(ctx, qtbot)
    tool_color = span_color(ctx.theme, "tool")
    subtask_color = span_color(ctx.theme, "subtask")
    panel.tick()
    assert count_color(panel.timeline, tool_color, tolerance=20) == 0
    start = time.monotonic()
    for event in agent_run(start):
        ctx.agents.run_event.emit(event)
    panel.tick()
    panel.timeline.show_range(start - ctx.t0 - 0.1, start - ctx.t0 + 1.8)
    QApplication.processEvents()
    assert count_color(panel.timeline, tool_color, tolerance=20) > 100
    assert count_color(panel.timeline, subtask_color, tolerance=20) > 100
    tool = panel.timeline.span_at(start - ctx.t0 + 0.7, ROWS["tool"])
    assert tool is not None and tool.name == "calc" and not tool.incomplete


def test_open_tool_call_grows_live_and_generations_get_spans(ctx, qtbot) -> None:
    panel = _profiler(ctx, qtbot)
    start = time.monotonic() - 1.0  # the tool was called half a second ago
    for event in agent_run(start)[:6]:  # the tool call has not returned
        ctx.agents.run_event.emit(event)
    panel.tick()
    first = panel.timeline.span_at(start - ctx.t0 + 0.6, ROWS["tool"])
    assert first is not None and first.incomplete
    time.sleep(0.05)
    panel.tick()
    second = panel.timeline.span_at(start - ctx.t0 + 0.6, ROWS["tool"])
    assert second is not None and second.end > first.end
    # a plain generation after the agent run: generation, prefill and decode spans
    for event in agent_run(start)[6:]:
        ctx.agents.run_event.emit(event)
    ctx.generation.publish_started()
    now = time.monotonic()
    for event in _generation(ctx, now, 30):
        ctx.generation.publish(event)
    panel.tick()
    kinds = {s.kind for s in panel.timeline.spans if s.start >= now - ctx.t0 - 0.01}
    assert {"generation", "prefill", "decode", "run"} <= kinds
    assert len(panel.timeline_data.runs) == 2
