"""`TimelineChart`: spans of runs (runs, steps, generations, prefill/decode, tool calls,
subtasks) as bars in rows, and point events as ticks, on the counters' time axis.

`SpanItem` paints its rectangles straight onto the view's painter every repaint: no
QPicture (pyqtgraph's BarGraphItem draws into one, and under PySide6 6.11.3 every
QPainter opened on a QPicture leaks references to None; see docs/gui.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from engine.telemetry.records import EventRecord, SpanRecord
from gui.theme import Theme
from gui.widgets.charts import DirectAxis

#: row of each span kind (top to bottom); kinds not listed are not drawn
ROWS: dict[str, int] = {
    "run": 0,
    "step": 1,
    "generation": 2,
    "prefill": 3,
    "decode": 3,
    "tool": 4,
    "subtask": 5,
    "retrieval": 6,
    "load": 6,
}
ROW_NAMES = ("run", "step", "generation", "prefill/decode", "tool", "subtask", "memory/load")
POINT_ROW = len(ROW_NAMES)  # point events (memory hits, reflections, answers, errors)
#: colours when the theme has no `chart.span.<kind>` entry
DEFAULT_COLORS = {
    "run": "#5c6bc0",
    "step": "#8d6e63",
    "generation": "#26a69a",
    "prefill": "#ffa726",
    "decode": "#42a5f5",
    "tool": "#ec407a",
    "subtask": "#9ccc65",
    "retrieval": "#ab47bc",
    "load": "#78909c",
    "point": "#fdd835",
}


def span_color(theme: Theme, kind: str) -> str:
    return theme.colors.get(f"chart.span.{kind}", DEFAULT_COLORS.get(kind, "#9e9e9e"))


@dataclass(frozen=True)
class Bar:
    x0: float
    x1: float
    y0: float
    y1: float
    color: QColor
    label: str
    incomplete: bool


def layout(spans: Sequence[SpanRecord], theme: Theme) -> list[Bar]:
    """Bars for spans: one row per kind; spans overlapping in a row share it in lanes."""
    bars: list[Bar] = []
    by_row: dict[int, list[SpanRecord]] = {}
    for span in spans:
        if span.kind in ROWS:
            by_row.setdefault(ROWS[span.kind], []).append(span)
    for row, members in by_row.items():
        lane_ends: list[float] = []
        placed: list[tuple[SpanRecord, int]] = []
        for span in sorted(members, key=lambda s: (s.start, -s.end)):
            lane = next((i for i, end in enumerate(lane_ends) if end <= span.start), None)
            if lane is None:
                lane = len(lane_ends)
                lane_ends.append(span.end)
            lane_ends[lane] = span.end
            placed.append((span, lane))
        height = 0.8 / max(1, len(lane_ends))
        for span, lane in placed:
            y0 = row + 0.1 + lane * height
            color = QColor(span_color(theme, span.kind))
            bars.append(
                Bar(span.start, span.end, y0, y0 + height, color, span.name, span.incomplete)
            )
    return bars


class SpanItem(pg.GraphicsObject):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[Bar] = []
        self.ticks: list[tuple[float, QColor]] = []
        self._rect = QRectF(0, 0, 1, POINT_ROW + 1)

    def set_bars(self, bars: list[Bar], ticks: list[tuple[float, QColor]]) -> None:
        self.prepareGeometryChange()
        self.bars, self.ticks = bars, ticks
        xs = [b.x0 for b in bars] + [b.x1 for b in bars] + [t for t, _ in ticks]
        lo, hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
        self._rect = QRectF(lo, 0, max(hi - lo, 1e-6), POINT_ROW + 1)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, p: QPainter, *args: object) -> None:
        transform = p.transform()
        px = abs(transform.m11()) or 1.0  # device pixels per second
        p.setPen(Qt.PenStyle.NoPen)
        for bar in self.bars:
            width = max(bar.x1 - bar.x0, 1.5 / px)  # a span is at least visible
            p.setBrush(bar.color)
            p.drawRect(QRectF(bar.x0, bar.y0, width, bar.y1 - bar.y0))
        for t, color in self.ticks:
            p.setBrush(color)
            p.drawRect(QRectF(t - 1.0 / px, POINT_ROW + 0.2, 2.0 / px, 0.6))
        # labels in device coordinates (unscaled text) where a bar is wide enough
        p.save()
        p.resetTransform()
        p.setPen(QPen(QColor("#ffffff")))
        metrics = p.fontMetrics()
        for bar in self.bars:
            if bar.y1 - bar.y0 < 0.35:
                continue
            rect = transform.mapRect(QRectF(bar.x0, bar.y0, bar.x1 - bar.x0, bar.y1 - bar.y0))
            text = bar.label + (" …" if bar.incomplete else "")
            if rect.width() > metrics.horizontalAdvance(text) + 6:
                p.drawText(rect.adjusted(3, 0, 0, 0), int(Qt.AlignmentFlag.AlignVCenter), text)
        p.restore()


class TimelineChart(pg.PlotWidget):
    """The timeline plot: same x axis (seconds) as the counter charts."""

    def __init__(self, theme: Theme) -> None:
        left = DirectAxis("left")
        super().__init__(axisItems={"left": left, "bottom": DirectAxis("bottom")})
        self.theme = theme
        self.item = SpanItem()
        self.addItem(self.item)
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setLabel("bottom", "s since start")
        view = plot.getViewBox()
        view.invertY(True)
        self.setYRange(0, POINT_ROW + 1, padding=0)
        plot.enableAutoRange(y=False)
        self.setMouseEnabled(x=False, y=False)
        left.setTicks([[(i + 0.5, name) for i, name in enumerate((*ROW_NAMES, "events"))], []])
        left.setWidth(96)
        self.setMinimumHeight(210)
        self.spans: list[SpanRecord] = []
        self.points: list[EventRecord] = []
        self.scene().sigMouseMoved.connect(self._hover)
        self.apply_theme(theme)

    def set_spans(self, spans: Sequence[SpanRecord], points: Sequence[EventRecord] = ()) -> None:
        self.spans, self.points = list(spans), list(points)
        tick = QColor(span_color(self.theme, "point"))
        self.item.set_bars(layout(spans, self.theme), [(p.t, tick) for p in points])

    def show_range(self, lo: float, hi: float) -> None:
        self.setXRange(lo, max(hi, lo + 1e-3), padding=0.01)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.chart("background"))
        axis_color = theme.chart("axis")
        plot = self.getPlotItem()
        plot.setTitle("Timeline (runs, steps, generations, tool calls)", color=axis_color,
                      size="9pt")  # fmt: skip
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(axis_color))
            axis.setTextPen(pg.mkPen(axis_color))
        self.set_spans(self.spans, self.points)

    def describe_at(self, x: float, y: float) -> str:
        """The tooltip for a point of the view: the innermost span there, with its time."""
        span = self.span_at(x, int(y))
        if span is None:
            return ""
        state = " (never ended: closed at the run's end)" if span.incomplete else ""
        return f"{span.name} [{span.kind}] run {span.run} step {span.step}: {span.ms:.1f} ms{state}"

    def _hover(self, pos: object) -> None:
        point = self.getPlotItem().getViewBox().mapSceneToView(pos)
        self.setToolTip(self.describe_at(point.x(), point.y()))

    def span_at(self, x: float, row: int) -> SpanRecord | None:
        """The shortest span drawn at time `x` in `row` (tests, tooltips)."""
        found = [s for s in self.spans if ROWS.get(s.kind) == row and s.start <= x <= s.end]
        return min(found, key=lambda s: s.end - s.start, default=None)
