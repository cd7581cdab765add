"""Undo keys in a text field reach the form's undo stack, not the field's own history."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QLineEdit, QWidget

from gui.widgets.undo_keys import UndoKeys


def test_ctrl_z_and_ctrl_shift_z_drive_the_stack(qtbot) -> None:
    form = QWidget()
    edit = QLineEdit(form)
    qtbot.addWidget(form)
    stack = QUndoStack()
    log: list[str] = []

    class Note(QUndoCommand):
        def redo(self) -> None:
            log.append("redo")

        def undo(self) -> None:
            log.append("undo")

    stack.push(Note("n"))
    keys = UndoKeys(stack)
    keys.watch(form)
    qtbot.keyClicks(edit, "abc")
    qtbot.keyClick(edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert log == ["redo", "undo"] and edit.text() == "abc"  # the field's own undo untouched
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(edit, Qt.Key.Key_Z, mods)
    assert log == ["redo", "undo", "redo"]
    qtbot.keyClick(edit, Qt.Key.Key_A)
    assert edit.text() == "abca"  # other keys pass
