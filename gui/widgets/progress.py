"""`QtProgress`: shows engine `Progress` reports (stage, bar, message) with a Cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from engine.progress import Progress


class QtProgress(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = QLabel("")
        self.stage.setObjectName("caption")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self._on_cancel)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stage)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self._started = time.monotonic()
        self.reset()

    def reset(self) -> None:
        self.stage.setText("")
        self.message.setText("")
        self.bar.setValue(0)
        self.cancel.setEnabled(False)
        self.setVisible(False)

    def begin(self, title: str) -> None:
        self._started = time.monotonic()
        self.setVisible(True)
        self.cancel.setEnabled(True)
        self.cancel.setText("Cancel")
        self.stage.setText(title)
        self.bar.setRange(0, 0)  # busy until the first report with a total

    def update_progress(self, p: Progress) -> None:
        elapsed = time.monotonic() - self._started
        self.stage.setText(f"{p.stage}  ({elapsed:.0f} s)")
        frac = p.fraction
        if frac is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(1.0, frac)))
        if p.message:
            self.message.setText(p.message)

    def end(self, text: str) -> None:
        self.cancel.setEnabled(False)
        self.bar.setRange(0, 1000)
        self.bar.setValue(1000 if "cancel" not in text and "fail" not in text else 0)
        self.message.setText(text)

    def _on_cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.cancel.setText("Cancelling…")
        self.cancel_requested.emit()
