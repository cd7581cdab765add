"""The designer's two richer fields: the persona (rich text, stored as Markdown) and the
goals (an ordered list: add, remove, edit in place, reorder by drag or Move up/down)."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextCharFormat, QTextListFormat
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.agent_model import AgentModel, field_name
from gui.widgets.fields import Field, mark

BLOCK_START = re.compile(r"^(\s*([-*+]|\d+[.)])\s|#|>|```|\||\s{4})")


def unwrap(markdown: str) -> str:
    """Undo the line wrapping Qt's Markdown writer adds at 80 columns: inside a paragraph or
    list item a single newline is a soft break (the same Markdown), and the prompt should
    get the person's lines, not the writer's."""
    out: list[str] = []
    fenced = False
    for line in markdown.strip().split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        joinable = out and out[-1].strip() and line.strip() and not fenced
        if joinable and not line.startswith("```") and not BLOCK_START.match(line.lstrip(" ")):
            out[-1] = f"{out[-1]} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


def to_markdown(edit: QTextEdit) -> str:
    return unwrap(edit.toMarkdown())


class PersonaField(Field):
    """Rich text with a small toolbar, or its Markdown source; the file holds the Markdown."""

    def __init__(self, model: AgentModel) -> None:
        super().__init__(model, ("persona",), "character and tone (Markdown)")
        self.widget = QWidget()
        self.edit = QTextEdit()
        self.edit.setUndoRedoEnabled(False)  # the designer's undo stack owns undo
        self.edit.setAcceptRichText(True)
        self.source = QPlainTextEdit()
        self.source.setUndoRedoEnabled(False)
        self.stack = QStackedWidget()
        for editor in (self.edit, self.source):
            editor.setPlaceholderText(self.hint)
            self.stack.addWidget(editor)
        self.stack.setMinimumHeight(90)
        self.stack.setMaximumHeight(180)
        bar = QHBoxLayout()
        for text, slot in (
            ("B", self._bold),
            ("I", self._italic),
            ("• List", self._bullets),
        ):
            button = QToolButton()
            button.setText(text)
            button.clicked.connect(slot)
            bar.addWidget(button)
        bar.addStretch(1)
        self.markdown = QToolButton()
        self.markdown.setText("Markdown source")
        self.markdown.setCheckable(True)
        self.markdown.toggled.connect(lambda on: self.stack.setCurrentIndex(int(on)))
        bar.addWidget(self.markdown)
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        self.edit.textChanged.connect(self._edited)
        self.source.textChanged.connect(self._source_edited)

    def _edited(self) -> None:
        if not self._updating:
            self.commit(to_markdown(self.edit) or None, merge=True)

    def _source_edited(self) -> None:
        if not self._updating:
            self.commit(self.source.toPlainText() or None, merge=True)

    def _format(self, fmt: QTextCharFormat) -> None:
        self.edit.mergeCurrentCharFormat(fmt)

    def _bold(self) -> None:
        fmt = QTextCharFormat()
        bold = self.edit.fontWeight() != QFont.Weight.Bold
        fmt.setFontWeight(QFont.Weight.Bold if bold else QFont.Weight.Normal)
        self._format(fmt)

    def _italic(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontItalic(not self.edit.fontItalic())
        self._format(fmt)

    def _bullets(self) -> None:
        self.edit.textCursor().createList(QTextListFormat.Style.ListDisc)

    def show(self, value: Any) -> None:
        text = str(value or "")
        if to_markdown(self.edit) != unwrap(text):
            self.edit.setMarkdown(text)
        if self.source.toPlainText() != text:
            self.source.setPlainText(text)

    def set_error(self, message: str | None) -> None:
        mark(self.stack, message, self.hint)


class GoalsField(Field):
    """The goals in order. Dragging or Move up/down is one undoable reorder."""

    def __init__(self, model: AgentModel) -> None:
        super().__init__(model, ("goals",), "ordered objectives")
        self.widget = QWidget()
        self.list = QListWidget()
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.setMaximumHeight(200)
        self.list.itemChanged.connect(self._item_edited)
        self.list.model().rowsMoved.connect(lambda *_: self._reordered())
        buttons = QVBoxLayout()
        for text, slot in (
            ("Add", self.add_goal),
            ("Remove", self.remove_goal),
            ("Up", lambda: self.move(-1)),
            ("Down", lambda: self.move(1)),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.list, 1)
        row.addLayout(buttons)

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _item_edited(self, item: QListWidgetItem) -> None:
        row = self.list.row(item)
        if not self._updating and 0 <= row < len(self.value() or []):
            self.model.set(("goals", row), item.text(), f"edit goal {row + 1}", merge=True)

    def _reordered(self) -> None:
        if not self._updating:
            self.commit(self.texts())

    def add_goal(self) -> None:
        self.commit([*(self.value() or []), "new goal"])
        item = self.list.item(self.list.count() - 1)
        self.list.setCurrentItem(item)
        self.list.editItem(item)

    def remove_goal(self) -> None:
        row = self.list.currentRow()
        goals = list(self.value() or [])
        if 0 <= row < len(goals):
            self.commit(goals[:row] + goals[row + 1 :])

    def move(self, step: int) -> None:
        row, goals = self.list.currentRow(), list(self.value() or [])
        if 0 <= row < len(goals) and 0 <= row + step < len(goals):
            goals.insert(row + step, goals.pop(row))
            self.commit(goals)
            self.list.setCurrentRow(row + step)

    def show(self, value: Any) -> None:
        goals = [str(g) for g in value or []]
        if self.texts() == goals:
            return
        row = self.list.currentRow()
        self.list.clear()
        for goal in goals:
            item = QListWidgetItem(goal)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
        self.list.setCurrentRow(min(row, self.list.count() - 1))

    def set_error(self, message: str | None) -> None:
        mark(self.list, message, self.hint)

    def mark_items(self, errors: dict[str, str]) -> None:
        """Each goal's own message (an empty goal) on its item."""
        self._updating = True  # a tooltip change is an itemChanged too: not an edit
        try:
            for i in range(self.list.count()):
                self.list.item(i).setToolTip(errors.get(field_name(("goals", i)), ""))
        finally:
            self._updating = False
