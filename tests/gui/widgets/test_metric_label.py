"""MetricLabel: changing its text does not make the window lay itself out again."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from gui.widgets.metric_label import MetricLabel


class _LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _relayouts(qtbot, label: QLabel) -> tuple[int, QWidget]:
    parent = QWidget()
    qtbot.addWidget(parent)
    layout = QHBoxLayout(parent)
    layout.addWidget(QLabel("TTFT"))
    layout.addWidget(label)
    parent.show()
    qtbot.waitExposed(parent)
    qtbot.wait(20)  # the first layout after show
    counter = _LayoutRequests()
    parent.installEventFilter(counter)
    for i in range(40):
        label.setText(f"{i * 37.3:.1f} tok/s")
        qtbot.wait(1)  # let posted events run
    parent.removeEventFilter(counter)
    return counter.count, parent


def test_text_changes_cost_no_relayout(qtbot) -> None:
    assert _relayouts(qtbot, QLabel("– tok/s"))[0] >= 20  # a plain label: ~1 per change
    label = MetricLabel("– tok/s", "99999.9 tok/s")
    count, _parent = _relayouts(qtbot, label)
    assert count <= 1  # (a late one from showing the window may come)
    assert label.width() >= label.fontMetrics().horizontalAdvance("99999.9 tok/s")


def test_the_widest_text_still_fits_after_a_font_change(qtbot) -> None:
    label = MetricLabel("1.0 tok/s", "99999.9 tok/s")
    qtbot.addWidget(label)
    font = label.font()
    font.setPointSize(font.pointSize() * 2)
    label.setFont(font)
    assert label.width() >= label.fontMetrics().horizontalAdvance("99999.9 tok/s")
