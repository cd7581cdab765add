"""Live profiler: charts receive samples (pixels of the curve colour) and stay stable."""

from __future__ import annotations

import gc
import sys
import time

import numpy as np
import psutil
from PySide6.QtWidgets import QApplication

from gui.panels.profiler import QtLiveProfiler
from tests.helpers.generation_events import generation
from tests.helpers.pixels import count_color, count_color_between
from tests.helpers.profiler import live_profiler


def test_system_charts_draw_real_samples(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    cpu_color = ctx.theme.chart("cpu")
    panel.tick()
    assert count_color(panel.charts["cpu"], cpu_color) == 0
    for _ in range(10):
        ctx.sampler.sample_once()
        sum(i * i for i in range(200_000))  # some CPU so the curve is off the floor
        time.sleep(0.05)  # samples 50 ms apart: the CPU curve spans half a second
    panel.tick()
    assert count_color(panel.charts["cpu"], cpu_color) > 50
    assert count_color(panel.charts["rss"], ctx.theme.chart("rss")) > 50
    assert count_color(panel.charts["ram"], ctx.theme.chart("ram")) > 50


def test_gpu_reason_is_shown_without_a_gpu(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    if panel.gpu_source is None:
        assert panel.gpu_reason.isVisible() and "nvidia" in panel.gpu_reason.text()
        assert "gpu" not in panel.charts
    else:  # pragma: no cover - a machine with a GPU reader
        assert "gpu" in panel.charts


def test_generation_metrics_are_charted(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    now = time.monotonic()
    for event in generation(now - 1.0, 80):
        ctx.generation.publish([event])

    def charted() -> bool:  # tokens/s is sampled at 10 Hz: a few points make a line
        panel.tick()
        return panel.data.tok_rate.total_written >= 3

    qtbot.waitUntil(charted, timeout=5_000)
    assert panel.data.itl.total_written == 79
    assert panel.data.generations.total_written == 1
    assert "TTFT 50 ms" in panel.summary.text() and "decode 100.0 tok/s" in panel.summary.text()
    assert count_color(panel.charts["itl"], ctx.theme.chart("itl")) > 50
    assert count_color(panel.charts["ttft"], ctx.theme.chart("ttft")) > 10
    assert count_color(panel.charts["tok_s"], ctx.theme.chart("tok_s")) > 0


def _soak(ctx, qtbot, panel, ticks: int) -> None:
    for i in range(ticks):
        ctx.sampler.sample_once()
        if i % 10 == 0:
            for event in generation(time.monotonic(), 20, gap=0.001):
                ctx.generation.publish([event])
        panel.tick()
        if i % 200 == 0:
            QApplication.processEvents()  # let the charts repaint


def test_soak_many_thousand_ticks_keep_memory_stable(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    process = psutil.Process()
    _soak(ctx, qtbot, panel, 1500)  # fill every ring once and warm caches
    gc.collect()
    rss_before = process.memory_info().rss
    _soak(ctx, qtbot, panel, 4000)
    gc.collect()
    growth_mb = (process.memory_info().rss - rss_before) / 1e6
    assert panel.ticks == 5500
    assert growth_mb < 15, f"RSS grew by {growth_mb:.1f} MB over 4000 ticks"


def test_soak_ticks_without_repaint_keep_refcount_of_none_stable(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    for _ in range(2):  # the second round runs with every ring full
        gc.collect()
        before = sys.getrefcount(None)
        for i in range(3000):
            ctx.sampler.sample_once()
            if i % 10 == 0:
                for event in generation(time.monotonic(), 20, gap=0.001):
                    ctx.generation.publish([event])
            panel.tick()
        gc.collect()
        growth = sys.getrefcount(None) - before
    assert abs(growth) < 50, f"refcount(None) moved by {growth} over 3000 ticks"


def test_soak_with_repaints_keeps_refcount_of_none_stable(ctx, qtbot) -> None:
    # (pyqtgraph's own AxisItem fails this: its QPicture cache leaks under PySide6 6.11.3;
    # gui.widgets.charts.DirectAxis paints without it)
    panel = live_profiler(ctx, qtbot)
    _soak(ctx, qtbot, panel, 1500)
    gc.collect()
    before = sys.getrefcount(None)
    _soak(ctx, qtbot, panel, 4000)
    gc.collect()
    growth = sys.getrefcount(None) - before
    assert panel.ticks == 5500
    assert abs(growth) < 100, f"refcount(None) moved by {growth}"


def test_charts_repaint_less_often_while_a_run_is_open(ctx, qtbot) -> None:
    panel = QtLiveProfiler(ctx, redraw_ms=1_000_000, min_repaint_s=0, busy_repaint_s=60)
    qtbot.addWidget(panel)
    panel.tick()
    idle = panel._last_repaint
    panel.tick()
    assert panel._last_repaint > idle  # idle: every tick may repaint (min_repaint_s=0)
    ctx.generation.publish_started()  # a generation opens a run
    panel.tick()
    first = panel._last_repaint
    panel.tick()
    assert panel._last_repaint == first  # busy: at most once per busy_repaint_s
    ctx.generation.publish(generation(time.monotonic(), 5))  # ... ends with its stats
    panel.tick()
    assert panel._last_repaint > first


def test_a_stall_of_the_sampler_is_a_gap_in_the_counter_charts(ctx, qtbot) -> None:
    """6 s without samples (a model load held the GIL): no line across them."""
    panel = live_profiler(ctx, qtbot)
    ring = ctx.sampler.buffers["system"]
    cpu = panel._system_channels["cpu_percent"]
    base = time.monotonic() - 10.0
    row = np.full(ring.channels, 50.0)
    for t in [*(base + i * 0.1 for i in range(20)), *(base + 8.0 + i * 0.1 for i in range(20))]:
        row[cpu] = 50.0 if t < base + 5 else 100.0
        ring.append(t, row)
    panel.tick()
    chart = panel.charts["cpu"]
    y = chart.curves["cpu"].yData
    assert np.isnan(y).sum() == 1 and np.isnan(y[20])
    x0 = base - ctx.t0
    color = ctx.theme.chart("cpu")
    assert count_color_between(chart, color, x0 + 0.5, x0 + 1.5) > 5  # before the stall
    assert count_color_between(chart, color, x0 + 8.5, x0 + 9.5) > 5  # after it
    assert count_color_between(chart, color, x0 + 3.0, x0 + 7.0) == 0  # no ramp across


def test_no_tokens_per_second_ramp_across_a_pause(ctx, qtbot) -> None:
    panel = live_profiler(ctx, qtbot)
    now = time.monotonic()
    for event in generation(now - 20.0, 40, gap=0.05):
        ctx.generation.publish([event])
    data = panel.data
    for i in range(40):  # 4 s of 10 Hz ticks: decays to zero, then idle (no rows)
        data.sample_rate(now - 19.0 + i * 0.1)
    idle_rows = data.tok_rate.total_written
    data.sample_rate(now - 10.0)
    assert data.tok_rate.total_written == idle_rows  # idle: nothing added
    for event in generation(now - 2.0, 40, gap=0.05):
        ctx.generation.publish([event])
    data.sample_rate(now - 0.2)
    _, v = data.tok_rate.snapshot()
    assert np.isnan(v[:, 0]).sum() == 1 and np.isnan(v[-2, 0]) and v[-1, 0] > 0
    panel.tick()
    assert np.isnan(panel.charts["tok_s"].curves["tok_s"].yData).any()
    itl = panel.charts["itl"].curves["itl"].yData
    assert len(itl) == 2 * 39 + 1 and np.isnan(itl[39])  # one break between generations
    color = ctx.theme.chart("tok_s")
    chart = panel.charts["tok_s"]
    assert count_color_between(chart, color, now - 1.5 - ctx.t0, now - ctx.t0) > 0
    assert count_color_between(chart, color, now - 14.0 - ctx.t0, now - 3.0 - ctx.t0) == 0
