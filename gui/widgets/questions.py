"""The one question the window asks before something unsaved would be lost."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

Answer = QMessageBox.StandardButton


def save_discard_cancel(parent: QWidget, title: str, text: str) -> Answer:
    """Save (the default) / Discard / Cancel; tests answer it by patching
    `QMessageBox.question`."""
    return QMessageBox.question(
        parent, title, text, Answer.Save | Answer.Discard | Answer.Cancel, Answer.Save
    )
