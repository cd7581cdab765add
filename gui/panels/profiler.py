"""`QtLiveProfiler`: live charts of the hardware sampler and of generation metrics.

A QTimer (default 50 ms) redraws only what changed since the last tick: system counters
from the HardwareSampler's rings, tokens/s, inter-token latency and per-generation TTFT
from `ProfilerData`. GPU charts exist only when a GPU source is available; otherwise the
reason of every GPU source is shown instead. Closing the window with a running or unsaved
recording asks first (`confirm_close`).
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.llm.events import GenerationFinished
from gui.context import AppContext
from gui.panels.registry import register_panel
from gui.profiler_controls import ProfilerControls
from gui.profiler_data import ProfilerData
from gui.profiler_view import SessionView, build_view
from gui.theme import Theme
from gui.timeline_data import TimelineData
from gui.widgets.charts import GAP_FACTOR, LiveChart
from gui.widgets.timeline import TimelineChart

REDRAW_MS = 50
#: A chart repaints at most this often (measured: each repaint of the seven charts costs the
#: GUI thread enough CPU to slow a 2-core machine's decoding; see docs/performance.md)...
MIN_REPAINT_S = 0.2
#: ... and while a generation or an agent run is open, at most this often (2 Hz, like a
#: system monitor): ~1% of a core less for the GUI thread while the model needs the cores.
BUSY_REPAINT_S = 0.5


@register_panel("profiler", "Live profiler", area="bottom", order=30, shortcut="Ctrl+3", height=400)
class QtLiveProfiler(QWidget):
    def __init__(
        self,
        ctx: AppContext,
        redraw_ms: int = REDRAW_MS,
        min_repaint_s: float = MIN_REPAINT_S,
        busy_repaint_s: float = BUSY_REPAINT_S,
    ) -> None:
        super().__init__()
        self.min_repaint_s = min_repaint_s
        self.busy_repaint_s = busy_repaint_s
        self._last_repaint = 0.0
        self.ctx = ctx
        self.data = ProfilerData(ctx.t0)
        theme = ctx.theme
        self.charts: dict[str, LiveChart] = {}
        self._seen: dict[str, int] = {}
        self.ticks = 0
        self._system_channels = self._channels("system")
        # Where the sampler had no data (the GIL held by a tokenizer parse, a suspended
        # machine) the counter charts show a gap; the first sample after it holds the
        # average over the gap (psutil's CPU readings are deltas since the last read).
        sampled = GAP_FACTOR / ctx.sampler.rate_hz
        self._add("cpu", "CPU", "%", theme, [("cpu", "cpu")], gap=sampled)
        self._add("ram", "RAM used", "%", theme, [("ram", "ram")], gap=sampled)
        self._add("rss", "Process RSS", "MB", theme, [("rss", "rss")], gap=sampled)
        self.gpu_source = next(
            (s for s in ctx.sampler.status() if s.name != "system" and s.available), None
        )
        if self.gpu_source is not None:
            gpu_title = f"GPU ({self.gpu_source.name})"
            self._add("gpu", gpu_title, "%", theme, [("gpu", "gpu")], gap=sampled)
        # tokens/s and inter-token latency also break where ProfilerData marks a pause
        rate_gap = GAP_FACTOR / self.data.rate_hz
        self._add("tok_s", "Tokens/s", "tok/s", theme, [("tok_s", "tok_s")], gap=rate_gap)
        self._add("itl", "Inter-token latency", "ms", theme, [("itl", "itl")])
        self._add("ttft", "TTFT per generation", "ms", theme, [("ttft", "ttft")])
        self.charts["ttft"].getPlotItem().setLabel("bottom", "generation")
        self.charts["cpu"].fix_y(0, 100)
        self.gpu_reason = QLabel(self._gpu_reasons())
        self.gpu_reason.setObjectName("reason")
        self.gpu_reason.setWordWrap(True)
        self.gpu_reason.setVisible(self.gpu_source is None)
        self.summary = QLabel("No generation yet.")
        self.summary.setObjectName("metric")

        grid = QGridLayout()
        grid.setSpacing(4)
        for i, chart in enumerate(self.charts.values()):
            grid.addWidget(chart, i // 4, i % 4)
        # the run timeline (phase 2): live from the event feeds, on the counters' x axis
        self.timeline_data = TimelineData(ctx.t0)
        self.timeline = TimelineChart(theme)
        self._timeline_seen = -1
        self.viewing: SessionView | None = None  # a loaded session (read-only) instead of live
        self.controls = ProfilerControls(ctx)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls)
        layout.addLayout(top)
        layout.addWidget(self.gpu_reason)
        layout.addLayout(grid, 1)
        layout.addWidget(self.timeline)
        ctx.generation.started.connect(self.timeline_data.on_generation_started)
        ctx.generation.received.connect(self.timeline_data.on_generation_events)
        ctx.agents.run_events.connect(self.timeline_data.on_agent_events)
        ctx.profiles.show.connect(self.show_session)

        ctx.generation.received.connect(self.data.on_events)
        ctx.generation.received.connect(self._on_events)
        ctx.theme_changed.connect(self.apply_theme)
        self.timer = QTimer(self)
        self.timer.setInterval(redraw_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def _add(
        self,
        key: str,
        title: str,
        unit: str,
        theme: Theme,
        curves: list[tuple[str, str]],
        symbol: str | None = None,
        gap: float | None = None,
    ) -> None:
        chart = LiveChart(title, unit, theme, max_gap_s=gap)
        for curve_key, series in curves:
            chart.add_curve(curve_key, series, theme, symbol)
        self.charts[key] = chart

    def _channels(self, source: str) -> dict[str, int]:
        status = next((s for s in self.ctx.sampler.status() if s.name == source), None)
        return {name: i for i, name in enumerate(status.channels)} if status else {}

    def _gpu_reasons(self) -> str:
        lines = [
            f"{s.name}: {s.reason}"
            for s in self.ctx.sampler.status()
            if s.name != "system" and not s.available
        ]
        return "No GPU charts: " + "; ".join(lines) if lines else ""

    # ------------------------------------------------------------------ redraw
    def _changed(self, key: str, written: int) -> bool:
        if self._seen.get(key) == written:
            return False
        self._seen[key] = written
        return True

    def tick(self) -> None:
        """One redraw: copy only the rings that changed into their curves."""
        self.ticks += 1
        wall = time.monotonic()
        now = wall - self.ctx.t0
        self.data.sample_rate(wall)
        every = self.busy_repaint_s if self.timeline_data.live else self.min_repaint_s
        if self.viewing is not None or wall - self._last_repaint < every:
            return
        self._last_repaint = wall
        self.update_timeline(now)
        moved = False
        system = self.ctx.sampler.buffers.get("system")
        if system is not None and self._changed("system", system.total_written):
            t, v = system.snapshot()
            x = t - self.ctx.t0
            ch = self._system_channels
            self.charts["cpu"].set_series("cpu", x, v[:, ch["cpu_percent"]])
            self.charts["ram"].set_series("ram", x, v[:, ch["ram_percent"]])
            self.charts["rss"].set_series("rss", x, v[:, ch["process_rss_mb"]])
            moved = True
        if self.gpu_source is not None:
            ring = self.ctx.sampler.buffers.get(self.gpu_source.name)
            if ring is not None and self._changed("gpu", ring.total_written):
                t, v = ring.snapshot()
                self.charts["gpu"].set_series("gpu", t - self.ctx.t0, v[:, 0])
        for key, ring in (("tok_s", self.data.tok_rate), ("itl", self.data.itl)):
            if self._changed(key, ring.total_written):
                t, v = ring.snapshot()
                self.charts[key].set_series(key, t, v[:, 0])
                moved = True
        gens = self.data.generations
        if self._changed("ttft", gens.total_written) and gens.total_written:
            n, v = gens.snapshot()
            # each generation a short flat segment: visible from the first one, and no
            # scatter symbols (pyqtgraph's ScatterPlotItem leaks references per setData)
            x = (n[:, None] + np.array([-0.3, 0.3])).ravel()
            self.charts["ttft"].set_series("ttft", x, np.repeat(v[:, 0], 2))
            self.charts["ttft"].fix_y(0, float(v[:, 0].max()) * 1.25 + 1)
        if moved:
            for key in ("cpu", "ram", "rss", "gpu", "tok_s", "itl"):
                if key in self.charts:
                    self.charts[key].scroll_to(now)
            # the timeline shows the counters' time range (values, not pixels: the
            # plots differ in width, so pyqtgraph's setXLink would not line them up)
            lo, hi = self.charts["cpu"].viewRange()[0]
            self.timeline.setXRange(lo, hi, padding=0)

    def update_timeline(self, now: float) -> None:
        """Redraw the spans when events arrived, or while a run is open (its spans grow)."""
        data = self.timeline_data
        if data.version == self._timeline_seen and not data.live:
            return
        self._timeline_seen = data.version
        self.timeline.set_spans(data.spans(now), data.points())

    def show_session(self, session: object) -> None:
        """Show a loaded session read-only (None: back to the live charts)."""
        if session is None:
            self.viewing = None
            self._seen.clear()  # every live chart is redrawn from its ring
            self._timeline_seen = -1
            self._last_repaint = 0.0
            self.charts["ttft"].set_series("ttft", np.zeros(0), np.zeros(0))
            self.summary.setText("Live.")
            return
        view = self.viewing = build_view(session)  # type: ignore[arg-type]
        for key, (x, y) in view.series.items():
            if key in self.charts:
                self.charts[key].set_series(key, x, y)
        n = np.arange(1, len(view.ttft) + 1, dtype=float)
        self.charts["ttft"].set_series(
            "ttft", (n[:, None] + np.array([-0.3, 0.3])).ravel(), np.repeat(view.ttft, 2)
        )
        if len(view.ttft):
            self.charts["ttft"].fix_y(0, float(view.ttft.max()) * 1.25 + 1)
        for key in ("cpu", "ram", "rss", "tok_s", "itl"):
            self.charts[key].setXRange(0, max(view.duration_s, 1.0), padding=0.01)
        self.timeline.set_spans(view.spans, view.points)
        self.timeline.setXRange(0, max(view.duration_s, 1.0), padding=0.01)
        self.summary.setText(
            f"Session {view.name!r} (read-only): {view.duration_s:.1f} s, "
            f"{len(view.ttft)} generation(s), {len(view.spans)} spans. Live returns to the "
            "live charts."
        )

    def _on_events(self, events: list[object]) -> None:
        last = self.data.last
        finished = any(isinstance(event, GenerationFinished) for event in events)
        if last is None or not finished or self.viewing is not None:
            return
        m, itl = last.stats, last.stats.inter_token()
        self.summary.setText(
            f"last generation: TTFT {m.ttft_ms:.0f} ms · decode {m.decode_tok_s:.1f} tok/s · "
            f"prefill {m.prefill_tok_s:.0f} tok/s · inter-token p50 {itl.p50_ms:.1f} / "
            f"p99 {itl.p99_ms:.1f} ms · {m.new_tokens} tokens on {m.provider}"
        )

    def confirm_close(self) -> bool:
        """The window asks before it closes: a running or unsaved recording (Save /
        Discard / Cancel, see `ProfilerControls.confirm_close`)."""
        return self.controls.confirm_close()

    def apply_theme(self, theme: Theme) -> None:
        for chart in self.charts.values():
            chart.apply_theme(theme)
        self.timeline.apply_theme(theme)
