"""`MetricLabel`: a label for a number that changes many times a second while a model runs.

A plain QLabel asks its parent layout to lay out again on every `setText`; in the main
window that relayout reaches the dock areas and, at a few dozen updates a second, costs
the GUI thread more CPU than all the live charts together (measured: 3.6% of a core of
the 10% the window used while decoding at ~140 tok/s; docs/performance.md). Qt skips
the relayout for a widget whose minimum and maximum size are equal, so this label takes
a fixed size, wide enough for `widest`, and keeps it in step with its font.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QWidget


class MetricLabel(QLabel):
    def __init__(self, text: str, widest: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.widest = widest
        self.setObjectName("metric")
        self._fit()

    def _fit(self) -> None:
        self.ensurePolished()  # the theme's style sheet may change the font
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.horizontalAdvance(self.widest) + margins.left() + margins.right() + 4
        height = max(
            metrics.height() + margins.top() + margins.bottom(), super().sizeHint().height()
        )
        self.setFixedSize(width, height)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit()
