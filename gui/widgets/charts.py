"""`LiveChart`: a pyqtgraph plot tuned for live counters.

Curves are fed with `set_series` from ring-buffer data on a redraw timer (never per
sample); `setClipToView` and peak downsampling keep a 10-minute window cheap; OpenGL is
off (`gui.app` sets it globally before any plot exists). Curves are drawn with 1-pixel
cosmetic pens without antialiasing: QPainter's cheapest raster path. Every repaint runs in
the GUI thread, which shares the cores with a generating model (docs/performance.md).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPainter

from gui.theme import Theme

#: The visible time range scrolls in steps of this many seconds.
SCROLL_STEP_S = 1.0


def _curve_pen(color: object) -> object:
    """A 1-pixel cosmetic pen: wider or antialiased lines cost several times more to paint."""
    return pg.mkPen(color, width=1)


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
        self._x_range: tuple[float, float] | None = None
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
        pen = _curve_pen(color)
        if symbol:
            curve = self.plot(
                pen=pen,
                symbol=symbol,
                symbolBrush=color,
                symbolPen=None,
                symbolSize=7,
                antialias=False,
            )
        else:
            curve = self.plot(pen=pen, antialias=False)
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
        """Show the last `window_s` seconds, or from the first sample while there is less.

        The range moves in whole `SCROLL_STEP_S` steps: between steps the bottom axis keeps
        its laid-out ticks and labels (re-laying them out is most of a repaint's cost).
        """
        right = math.ceil(now / SCROLL_STEP_S) * SCROLL_STEP_S
        left = right - self.window_s
        if self._x0 is not None:
            left = max(left, math.floor(self._x0 / SCROLL_STEP_S) * SCROLL_STEP_S)
        left = min(left, right - 1.0)
        if (left, right) != self._x_range:
            self._x_range = (left, right)
            self.setXRange(left, right, padding=0)

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
            curve.setPen(_curve_pen(color))
            if curve.opts.get("symbol"):
                curve.setSymbolBrush(color)
