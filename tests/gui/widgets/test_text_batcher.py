"""TextBatcher: streamed text reaches the widget in batches, control characters visible."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QPlainTextEdit

from gui.widgets.text_batcher import TextBatcher


def test_streamed_control_characters_are_shown_escaped(qtbot: Any) -> None:
    edit = QPlainTextEdit()
    qtbot.addWidget(edit)
    batcher = TextBatcher(edit)
    for token in ["<b>hi</b> ", "\x1b]0;pw", "ned\x07", "\x1b[2J", "\n\tok"]:
        batcher.append(token)
    batcher.flush()
    assert edit.toPlainText() == "<b>hi</b> \\x1b]0;pwned\\x07\\x1b[2J\n\tok"
    assert batcher.flushes == 1
