"""`BarChart`: medians as bars with min-max whiskers (the benchmark matrix).

`BarsItem` paints straight onto the view's painter (no QPicture, unlike pyqtgraph's
BarGraphItem and ErrorBarItem caches; see docs/gui.md on the PySide6 6.11.3 leak).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from gui.theme import Theme
from gui.widgets.charts import DirectAxis


class BarsItem(pg.GraphicsObject):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[float, float, float]] = []  # (median, min, max)
        self.color = QColor("#42a5f5")
        self.whisker = QColor("#ffffff")
        self._rect = QRectF(-0.5, 0, 1, 1)

    def set_values(self, values: Sequence[tuple[float, float, float]]) -> None:
        self.prepareGeometryChange()
        self.values = list(values)
        top = max((hi for _, _, hi in self.values), default=1.0) or 1.0
        self._rect = QRectF(-0.5, 0, max(len(self.values), 1), top)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, p: QPainter, *args: object) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.color)
        for i, (median, _, _) in enumerate(self.values):
            p.drawRect(QRectF(i - 0.3, 0, 0.6, median))
        pen = QPen(self.whisker)
        pen.setCosmetic(True)
        pen.setWidth(2)
        p.setPen(pen)
        for i, (_, lo, hi) in enumerate(self.values):
            p.drawLine(QLineF(i, lo, i, hi))
            p.drawLine(QLineF(i - 0.12, lo, i + 0.12, lo))
            p.drawLine(QLineF(i - 0.12, hi, i + 0.12, hi))


class BarChart(pg.PlotWidget):
    """`series`: the theme's chart colour of the bars (`chart.<series>`)."""

    def __init__(self, theme: Theme, series: str = "tok_s") -> None:
        bottom = DirectAxis("bottom")
        super().__init__(axisItems={"left": DirectAxis("left"), "bottom": bottom})
        self.bottom = bottom
        self.bars = BarsItem()
        self.addItem(self.bars)
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.setMinimumHeight(180)
        self.title = ""
        self.series = series
        self.apply_theme(theme)

    def set_bars(
        self, title: str, labels: Sequence[str], values: Sequence[tuple[float, float, float]]
    ) -> None:
        self.title = title
        self.getPlotItem().setTitle(title, color=self._axis, size="9pt")
        self.bottom.setTicks([[(i, label) for i, label in enumerate(labels)], []])
        self.bars.set_values(values)
        top = max((hi for _, _, hi in values), default=1.0) or 1.0
        self.setXRange(-0.6, max(len(values), 1) - 0.4, padding=0)
        self.setYRange(0, top * 1.1, padding=0)

    def apply_theme(self, theme: Theme) -> None:
        self.setBackground(theme.chart("background"))
        self._axis = theme.chart("axis")
        self.bars.color = QColor(theme.chart(self.series))
        self.bars.whisker = QColor(self._axis)
        plot = self.getPlotItem()
        plot.setTitle(self.title, color=self._axis, size="9pt")
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(self._axis))
            axis.setTextPen(pg.mkPen(self._axis))
        self.bars.update()
