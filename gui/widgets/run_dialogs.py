"""The questions a run asks the person: approve a tool call, edit a plan, trust a file.

Each dialog is opened with `open()` (window-modal, never a nested event loop) and says
its answer through `answered(value)`; methods such as `allow()` / `refuse(reason)` are
what the buttons do, so tests drive the dialogs the same way a person does.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.agent_job import STOP, Approval


class ApprovalDialog(QDialog):
    """Allow / Refuse (with an optional reason) / Stop the run, for one `ask` tool call."""

    answered = Signal(object)  # True | reason str | STOP

    def __init__(self, request: Approval, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Allow {request.tool}?")
        self.request = request
        intro = QLabel(
            f"The agent wants to call <b>{html.escape(request.tool)}</b> (approval: ask)."
        )
        about = QLabel(request.description)
        about.setTextFormat(Qt.TextFormat.PlainText)  # an MCP server wrote it
        about.setWordWrap(True)
        about.setObjectName("caption")
        self.arguments = QPlainTextEdit(json.dumps(request.arguments, indent=2, ensure_ascii=False))
        self.arguments.setReadOnly(True)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Reason for refusing (optional; the agent reads it)")
        self.allow_button = QPushButton("Allow")
        self.allow_button.setObjectName("primary")
        self.refuse_button = QPushButton("Refuse")
        self.stop_button = QPushButton("Stop the run")
        for button in (self.allow_button, self.stop_button):
            button.setAutoDefault(False)
        self.refuse_button.setDefault(True)  # Enter refuses (with the reason typed, if any)
        self.allow_button.clicked.connect(self.allow)
        self.refuse_button.clicked.connect(lambda: self.refuse(self.reason.text()))
        self.stop_button.clicked.connect(self.stop_run)
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refuse_button)
        buttons.addWidget(self.allow_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(about)
        layout.addWidget(QLabel("Arguments"))
        layout.addWidget(self.arguments, 1)
        layout.addWidget(self.reason)
        layout.addLayout(buttons)
        self.resize(460, 320)

    def allow(self) -> None:
        self._finish(True)

    def refuse(self, reason: str = "") -> None:
        self.reason.setText(reason)
        self._finish(reason.strip() or "the person refused")

    def stop_run(self) -> None:
        self._finish(STOP)

    def reject(self) -> None:  # Escape / window close: the call is refused, the run goes on
        self._finish("the person closed the approval dialog")

    def _finish(self, value: object) -> None:
        self.answered.emit(value)
        super().accept()


class PlanEditDialog(QDialog):
    """The plan as an editable list: edit (double-click), reorder, delete, add.

    Run answers the edited steps (empty = cancel the run); Keep answers None.
    """

    answered = Signal(object)  # list[str] | None

    def __init__(self, plan: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit the plan")
        self.steps = QListWidget()
        self.steps.setDragDropMode(QListWidget.DragDropMode.InternalMove)
        for text in plan:
            self._add(text)
        side = QVBoxLayout()
        for label, slot in (
            ("Add", lambda: self.add_step("New step")),
            ("Delete", self.delete_step),
            ("Up", lambda: self.move_step(-1)),
            ("Down", lambda: self.move_step(1)),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            side.addWidget(button)
        side.addStretch(1)
        self.keep_button = QPushButton("Keep the plan")
        self.keep_button.clicked.connect(self.reject)
        self.run_button = QPushButton("Run this plan")
        self.run_button.setObjectName("primary")
        self.run_button.clicked.connect(self.accept)
        middle = QHBoxLayout()
        middle.addWidget(self.steps, 1)
        middle.addLayout(side)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.run_button)
        layout = QVBoxLayout(self)
        note = QLabel(
            "Double-click a step to edit it; drag or Up/Down to reorder. An empty plan "
            "cancels the run."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addLayout(middle, 1)
        layout.addLayout(buttons)
        self.resize(480, 300)

    def _add(self, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.steps.addItem(item)
        return item

    def plan(self) -> list[str]:
        texts = (self.steps.item(i).text().strip() for i in range(self.steps.count()))
        return [t for t in texts if t]

    def set_step(self, row: int, text: str) -> None:
        self.steps.item(row).setText(text)

    def add_step(self, text: str) -> None:
        item = self._add(text)
        self.steps.setCurrentItem(item)
        self.steps.editItem(item)

    def delete_step(self, row: int | None = None) -> None:
        row = self.steps.currentRow() if row is None else row
        if 0 <= row < self.steps.count():
            self.steps.takeItem(row)

    def move_step(self, delta: int, row: int | None = None) -> None:
        row = self.steps.currentRow() if row is None else row
        target = row + delta
        if 0 <= row < self.steps.count() and 0 <= target < self.steps.count():
            item = self.steps.takeItem(row)
            self.steps.insertItem(target, item)
            self.steps.setCurrentRow(target)

    def accept(self) -> None:
        self.answered.emit(self.plan())
        super().accept()

    def reject(self) -> None:
        self.answered.emit(None)
        super().reject()


class TrustDialog(QDialog):
    """This agent file reaches outside its folder: run it anyway?

    One checkbox per trust item (engine.agent.trust), none ticked: "Trust and run" stays
    disabled until the person has ticked every one, so each is accepted on its own."""

    answered = Signal(bool)

    def __init__(self, path: str, items: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Trust this agent file?")
        text = QLabel(
            f"<b>{html.escape(path)}</b> reaches outside its own folder. Running it accepts "
            "each of these; tick each one you accept. Run it only if you trust the file."
        )
        text.setWordWrap(True)
        self.items = list(items)
        self.checks = [QCheckBox(item.replace("&", "&&")) for item in self.items]  # no mnemonic
        box = QWidget()
        rows = QVBoxLayout(box)
        for check, item in zip(self.checks, self.items, strict=True):
            check.setToolTip(item)
            check.toggled.connect(self._update)
            rows.addWidget(check)
        rows.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(box)
        self.trust_button = QPushButton("Trust and run")
        self.trust_button.clicked.connect(self.accept)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("primary")
        self.cancel_button.clicked.connect(self.reject)
        self.trust_button.setAutoDefault(False)
        self.cancel_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.trust_button)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.resize(560, 300)
        self._update()

    def _update(self) -> None:
        self.trust_button.setEnabled(all(check.isChecked() for check in self.checks))

    def accept(self) -> None:
        if not self.trust_button.isEnabled():  # Enter, or a call: only with every item ticked
            return
        self.answered.emit(True)
        super().accept()

    def reject(self) -> None:
        self.answered.emit(False)
        super().reject()
