"""`LiveChart`: a pyqtgraph plot tuned for live counters.

Curves are fed with `set_series` from ring-buffer data on a redraw timer (never per
sample); `setClipToView` and peak downsampling keep a 10-minute window cheap; OpenGL is
off (`gui.app` sets it globally before any plot exists). Curves are drawn with 1-pixel
cosmetic pens without antialiasing: QPainter's cheapest raster path. Every repaint runs in
the GUI thread, which shares the cores with a generating model (docs/performance.md).

A period without samples is drawn as a gap, never as a line across it: a chart with a
`max_gap_s` breaks its curves wherever consecutive samples are further apart (one
vectorised pass per redraw, `with_gaps`), and NaN values (a source with nothing to
report, a pause marked by the data) break them too (`connect="finite"`).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPainter

from gui.theme import Theme

#: The visible time range scrolls in steps of this many seconds.
SCROLL_STEP_S = 5.0
#: An automatic y range shrinks only when the data's peak falls below this share of it.
Y_SHRINK_BELOW = 0.3
#: Samples further apart than this many sampling intervals have a gap between them.
GAP_FACTOR = 2.5


def with_gaps(x: np.ndarray, y: np.ndarray, max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with a NaN point after every sample whose successor is more than `max_gap`
    later (x stays sorted: the NaN takes its left neighbour's x). Returned unchanged when
    there is no such gap, so the common case costs one `np.diff` and no copy."""
    if len(x) < 2:
        return x, y
    after = np.flatnonzero(np.diff(x) > max_gap) + 1
    if not len(after):
        return x, y
    return np.insert(x, after, x[after - 1]), np.insert(y.astype(float), after, np.nan)


def nice_top(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k that is >= value (1 for
    nothing to show): steps fine enough that a curve keeps most of the chart's height."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if value <= step * scale * (1 + 1e-9):
            return step * scale
    return 10.0 * scale


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
    def __init__(
        self,
        title: str,
        unit: str,
        theme: Theme,
        window_s: float = 60.0,
        max_gap_s: float | None = None,
    ) -> None:
        """`max_gap_s`: consecutive samples further apart are not joined (None: always)."""
        super().__init__(axisItems={"left": DirectAxis("left"), "bottom": DirectAxis("bottom")})
        self.title = title
        self.unit = unit
        self.window_s = window_s
        self.max_gap_s = max_gap_s
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._series: dict[str, str] = {}  # curve key -> theme chart colour key
        self._x0: float | None = None  # the oldest x drawn
        self._x_range: tuple[float, float] | None = None
        self._y_top: float | None = None  # the automatic y range's top; None: fixed range
        self._y_auto = True
        item = self.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.hideButtons()
        item.setMenuEnabled(False)
        item.getViewBox().setLimits(yMin=0)
        # The y range is set from the data with `nice_top` steps (see `set_series`):
        # pyqtgraph's own auto range moves with every new peak, and every move lays the
        # axis out again, the costliest part of a repaint.
        item.enableAutoRange(y=False)
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
                connect="finite",
            )
        else:
            curve = self.plot(pen=pen, antialias=False, connect="finite")
        self.curves[key] = curve
        self._series[key] = series

    def fix_y(self, low: float, high: float) -> None:
        self._y_auto = False
        self.setYRange(low, high, padding=0.02)

    def set_series(self, key: str, x: np.ndarray, y: np.ndarray) -> None:
        if self.max_gap_s is not None:
            x, y = with_gaps(x, y, self.max_gap_s)
        self.curves[key].setData(x, y)
        if len(x):
            self._x0 = float(x[0]) if self._x0 is None else min(self._x0, float(x[0]))
        if self._y_auto:
            self._fit_y()

    def _fit_y(self) -> None:
        """Grow the y range in `nice_top` steps to hold every curve; shrink it only when
        the peak fell below `Y_SHRINK_BELOW` of it (so it does not move on every peak)."""
        peaks = [
            float(np.nanmax(c.yData))
            for c in self.curves.values()
            if c.yData is not None and len(c.yData)
        ]
        peak = max(peaks, default=0.0)
        top = self._y_top
        if top is None or peak > top or peak < top * Y_SHRINK_BELOW:
            new_top = nice_top(peak * 1.1)
            if new_top != top:
                self._y_top = new_top
                self.setYRange(0, new_top, padding=0)

    def scroll_to(self, now: float) -> None:
        """Show the last `window_s` seconds, or from the first sample while there is less.

        The range moves in whole steps, `SCROLL_STEP_S` once more than half the window has
        data (1 s before, so a short history is not squeezed into a corner): between steps
        the bottom axis keeps its laid-out ticks and labels (re-laying them out is most of
        a repaint's cost).
        """
        start = self._x0 if self._x0 is not None else 0.0  # no data yet: from the start
        step = SCROLL_STEP_S if now - start >= self.window_s / 2 else 1.0
        right = math.ceil(now / step) * step
        left = max(right - self.window_s, math.floor(start / step) * step)
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
