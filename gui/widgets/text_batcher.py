"""`TextBatcher`: collects streamed text and appends it to a text widget on a timer.

Appending each token to a QPlainTextEdit would relayout the document ~100 times a
second; batching every 30 ms keeps the GUI thread nearly idle while a model streams.
A console that already receives its tokens in batches (gui.bridge.worker) calls `flush`
at the end of each batch instead: one append per batch and no timer wake-up of its own.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from gui.plain import printable

FLUSH_MS = 30


class TextBatcher(QObject):
    def __init__(self, target: QPlainTextEdit, flush_ms: int = FLUSH_MS) -> None:
        super().__init__(target)
        self.target = target
        self._parts: list[str] = []
        self.flushes = 0
        self.timer = QTimer(self)
        self.timer.setInterval(flush_ms)
        self.timer.timeout.connect(self.flush)

    def append(self, text: str) -> None:
        if text:
            self._parts.append(text)
            if not self.timer.isActive():
                self.timer.start()

    def flush(self) -> None:
        self.timer.stop()  # the next `append` starts it again
        if not self._parts:
            return
        text = printable("".join(self._parts))  # the model's text: control characters shown
        self._parts.clear()
        cursor = self.target.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.target.setTextCursor(cursor)
        self.target.ensureCursorVisible()
        self.flushes += 1
