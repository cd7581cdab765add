"""Check pictures by counting pixels of a known colour in a widget's grab()."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage


def count_color(widget: object, color: str, tolerance: int = 40) -> int:
    """How many pixels of `widget.grab()` are within `tolerance` (sum over B, G, R) of `color`."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)  # type: ignore[attr-defined]
    ptr = image.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    arr = arr[:, : image.width() * 4].reshape(image.height(), image.width(), 4)
    c = QColor(color)
    target = np.array([c.blue(), c.green(), c.red()], dtype=np.int16)
    diff = np.abs(arr[:, :, :3].astype(np.int16) - target).sum(axis=2)
    return int((diff < tolerance).sum())
