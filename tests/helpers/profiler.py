"""The live profiler panel, shown, with its ticks driven by the test."""

from __future__ import annotations

from gui.panels.profiler import QtLiveProfiler


def live_profiler(ctx: object, qtbot: object) -> QtLiveProfiler:
    """A shown 1200x500 profiler whose timer never fires: the test calls `tick()`."""
    panel = QtLiveProfiler(ctx, redraw_ms=1_000_000, min_repaint_s=0, busy_repaint_s=0)  # type: ignore[arg-type]
    qtbot.addWidget(panel)  # type: ignore[attr-defined]
    panel.resize(1200, 500)
    panel.show()
    return panel
