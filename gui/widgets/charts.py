"""`LiveChart`: a pyqtgraph plot tuned for live counters.

Curves are fed with `set_series` from ring-buffer data on a redraw timer (never per
sample); `setClipToView` and peak downsampling keep a 10-minute window cheap; OpenGL is
off (`gui.app` sets it globally before any plot exists).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPainter

from gui.theme import Theme


class DirectAxis(pg.AxisItem):
    """An axis painted straight onto the view's painter.

    pyqtgraph caches each axis drawing in a QPicture; under PySide6 6.11.3 every
    `QPainter` opened on a QPicture leaks references to `None` (6 per axis repaint,
    reproduced with plain PySide6), which a live chart does many times a second. The
    axis is redrawn only when the view repaints anyway, so the cache buys little here.
    """

    _specs: object = None

    def paint(self, p: QPainter, opt: object, widget: object) -> None:
        p.save()
        try:
            if self.style["tickFont"]:
                p.setFont(self.style["tickFont"])
            # pyqtgraph sets `picture` to None whenever the axis must be laid out again;
            # until then the tick/text specs are reused (no QPicture involved).
            if getattr(self, "picture", None) is None or self._specs is None:
                self._specs = self.generateDrawSpecs(p)
                self.picture = True
            if self._specs is not None:
                self.drawPicture(p, *self._specs)  # type: ignore[misc]
        finally:
            p.restore()


class LiveChart(pg.PlotWidget):
    def __init__(self, title: str, unit: str, theme: Theme, window_s: float = 60.0) -> None:
        super().__init__(axisItems={"left": DirectAxis("left"), "bottom": DirectAxis("bottom")})
        self.title = title
        self.unit = unit
        self.window_s = window_s
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._series: dict[str, str] = {}  # curve key -> theme chart colour key
        self._x0: float | None = None  # the oldest x drawn
        item = self.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.hideButtons()
        item.setMenuEnabled(False)
        item.getViewBox().setLimits(yMin=0)
        item.setLabel("bottom", "s since start")
        self.setMouseEnabled(x=False, y=False)
        self.setMinimumSize(160, 110)
        self.apply_theme(theme)

    def add_curve(self, key: str, series: str, theme: Theme, symbol: str | None = None) -> None:
        color = theme.chart(series)
        pen = pg.mkPen(color, width=2)
        if symbol:
            curve = self.plot(
                pen=pen, symbol=symbol, symbolBrush=color, symbolPen=None, symbolSize=7
            )
        else:
            curve = self.plot(pen=pen)
        self.curves[key] = curve
        self._series[key] = series

    def fix_y(self, low: float, high: float) -> None:
        self.setYRange(low, high, padding=0.02)
        self.getPlotItem().enableAutoRange(y=False)

    def set_series(self, key: str, x: np.ndarray, y: np.ndarray) -> None:
        self.curves[key].setData(x, y)
        if len(x):
            self._x0 = float(x[0]) if self._x0 is None else min(self._x0, float(x[0]))

    def scroll_to(self, now: float) -> None:
        """Show the last `window_s` seconds, or from the first sample while there is less."""
        left = now - self.window_s
        if self._x0 is not None:
            left = max(left, self._x0)
        self.setXRange(min(left, now - 1.0), now, padding=0)

    def apply_theme(self, theme: Theme) -> None:
        self.setBackground(theme.chart("background"))
        axis_color = theme.chart("axis")
        item = self.getPlotItem()
        item.setTitle(f"{self.title} ({self.unit})", color=axis_color, size="9pt")
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(axis_color))
            axis.setTextPen(pg.mkPen(axis_color))
        for key, curve in self.curves.items():
            color = theme.chart(self._series[key])
            curve.setPen(pg.mkPen(color, width=2))
            if curve.opts.get("symbol"):
                curve.setSymbolBrush(color)
