"""Pictures checked by counting pixels of a known colour in `widget.grab()` (qutebrowser's way)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage


def color_mask(widget, color: str, tolerance: int = 40) -> np.ndarray:  # type: ignore[no-untyped-def]
    """[height, width] booleans: which pixels of the widget's picture are near `color`."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    ptr = image.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    arr = arr[:, : image.width() * 4].reshape(image.height(), image.width(), 4)
    c = QColor(color)
    target = np.array([c.blue(), c.green(), c.red()], dtype=np.int16)
    diff = np.abs(arr[:, :, :3].astype(np.int16) - target).sum(axis=2)
    mask: np.ndarray = diff < tolerance
    return mask


def count_color(widget, color: str, tolerance: int = 40) -> int:  # type: ignore[no-untyped-def]
    return int(color_mask(widget, color, tolerance).sum())


def plot_column(chart, x: float) -> int:  # type: ignore[no-untyped-def]
    """The pixel column of the widget `chart` (a pyqtgraph PlotWidget) where data x is."""
    scene = chart.getPlotItem().getViewBox().mapViewToScene(QPointF(x, 0.0))
    return int(chart.mapFromScene(scene).x())


def count_color_between(chart, color: str, x0: float, x1: float) -> int:  # type: ignore[no-untyped-def]
    """Pixels near `color` in the columns of data x from `x0` to `x1` (a PlotWidget)."""
    mask = color_mask(chart, color)
    return int(mask[:, plot_column(chart, x0) : plot_column(chart, x1) + 1].sum())
