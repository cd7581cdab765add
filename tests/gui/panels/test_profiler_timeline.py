"""The profiler's run timeline: scripted agent events (engine.agent.events) draw spans."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication

from gui.widgets.timeline import ROWS, span_color
from tests.helpers.agent_events import agent_run
from tests.helpers.generation_events import generation
from tests.helpers.pixels import count_color
from tests.helpers.profiler import live_profiler


def test_agent_events_draw_spans_in_the_timeline(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    tool_color = span_color(ctx.theme, "tool")
    subtask_color = span_color(ctx.theme, "subtask")
    panel.tick()
    assert count_color(panel.timeline, tool_color, tolerance=20) == 0
    start = time.monotonic()
    for event in agent_run(start):
        ctx.agents.run_events.emit([event])
    panel.tick()
    panel.timeline.show_range(start - ctx.t0 - 0.1, start - ctx.t0 + 1.8)
    QApplication.processEvents()
    assert count_color(panel.timeline, tool_color, tolerance=20) > 100
    assert count_color(panel.timeline, subtask_color, tolerance=20) > 100
    tool = panel.timeline.span_at(start - ctx.t0 + 0.7, ROWS["tool"])
    assert tool is not None and tool.name == "calc" and not tool.incomplete
    tip = panel.timeline.describe_at(start - ctx.t0 + 0.7, ROWS["tool"] + 0.5)
    assert tip.startswith("calc [tool] run 0 step 1: 400.0 ms")
    last = panel.timeline.describe_at(start - ctx.t0 + 1.3, ROWS["subtask"] + 0.5)
    assert "never ended" in last


def test_open_tool_call_grows_live_and_generations_get_spans(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    start = time.monotonic() - 1.0  # the tool was called half a second ago
    for event in agent_run(start)[:6]:  # the tool call has not returned
        ctx.agents.run_events.emit([event])
    panel.tick()
    first = panel.timeline.span_at(start - ctx.t0 + 0.6, ROWS["tool"])
    assert first is not None and first.incomplete

    def grown() -> bool:  # the open span reaches "now" at each tick: wait for the clock
        panel.tick()
        second = panel.timeline.span_at(start - ctx.t0 + 0.6, ROWS["tool"])
        return second is not None and second.incomplete and second.end > first.end

    qtbot.waitUntil(grown, timeout=5_000)
    # a plain generation after the agent run: generation, prefill and decode spans
    for event in agent_run(start)[6:]:
        ctx.agents.run_events.emit([event])
    ctx.generation.publish_started()
    now = time.monotonic()
    for event in generation(now, 30):
        ctx.generation.publish([event])
    panel.tick()
    kinds = {s.kind for s in panel.timeline.spans if s.start >= now - ctx.t0 - 0.01}
    assert {"generation", "prefill", "decode", "run"} <= kinds
    assert len(panel.timeline_data.runs) == 2


def _soak(ctx, panel, ticks: int) -> None:
    for i in range(ticks):
        ctx.sampler.sample_once()
        if i % 10 == 0:  # an agent run with a tool call, a subtask, memory, an answer
            for event in agent_run(time.monotonic() - 2.0):
                ctx.agents.run_events.emit([event])
        elif i % 10 == 5:  # and a plain generation
            ctx.generation.publish_started()
            for event in generation(time.monotonic(), 20, gap=0.001):
                ctx.generation.publish([event])
        panel.tick()
        if i % 200 == 0:
            QApplication.processEvents()  # let the charts and the timeline repaint


def test_soak_of_the_timeline_keeps_refcount_of_none_and_memory_stable(ctx, qtbot) -> None:
    import gc
    import sys

    import psutil

    panel = live_profiler(ctx, qtbot)
    _soak(ctx, panel, 1500)  # every ring and the timeline's run cap (100) filled once
    gc.collect()
    before = sys.getrefcount(None)
    rss_before = psutil.Process().memory_info().rss
    _soak(ctx, panel, 4000)
    gc.collect()
    growth = sys.getrefcount(None) - before
    growth_mb = (psutil.Process().memory_info().rss - rss_before) / 1e6
    assert panel.ticks == 5500 and len(panel.timeline_data.runs) == 100
    assert len(panel.timeline.spans) > 500  # the timeline really drew every tick's runs
    assert abs(growth) < 100, f"refcount(None) moved by {growth}"
    assert growth_mb < 15, f"RSS grew by {growth_mb:.1f} MB over 4000 ticks"
