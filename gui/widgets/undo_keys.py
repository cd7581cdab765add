"""`UndoKeys`: Ctrl+Z / Ctrl+Shift+Z (and Ctrl+Y) in text fields go to one `QUndoStack`.

A QLineEdit keeps its own undo history and takes the undo keys before any window
shortcut sees them; a form whose edits live on a shared stack installs this filter on its
text fields so the keys undo and redo the form's commands instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QTextEdit, QWidget

TEXT_FIELDS = (QLineEdit, QTextEdit, QPlainTextEdit)
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


class UndoKeys(QObject):
    def __init__(self, stack: QUndoStack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stack = stack

    def watch(self, widget: QWidget) -> None:
        """Filter `widget` and every text field inside it (again is harmless)."""
        for child in [widget, *widget.findChildren(QWidget)]:
            if isinstance(child, TEXT_FIELDS):
                child.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        assert isinstance(event, QKeyEvent)
        redo = event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Z and event.modifiers() == CTRL_SHIFT
        )
        if not (redo or event.matches(QKeySequence.StandardKey.Undo)):
            return False
        event.accept()  # the field keeps the key (no shortcut), and we act on the press
        if event.type() == QEvent.Type.KeyPress:
            (self.stack.redo if redo else self.stack.undo)()
        return True
