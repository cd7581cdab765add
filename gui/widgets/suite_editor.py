"""`SuiteEditor`: a suite file's text, edited in place and saved only when it is a valid
suite (engine.eval.editing.save_text: the errors name the line and field; the file on
disk is left as it was). "Add task from the run console" appends the console's last
task with its answer as the expectation (a number check for a numeric answer, else a
contains check). The shipped suites are part of the program: saving one writes the
person's own copy in the data home's suites/, with its agent and fixtures still found.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.eval import editing
from engine.eval.suitefile import MAX_BYTES, SuiteFileError, suite_folder
from gui.bridge.messages import report


def is_shipped(path: Path) -> bool:
    try:
        path.resolve().relative_to(suite_folder().resolve())
    except ValueError:
        return False
    return True


class SuiteEditor(QWidget):
    saved = Signal(object)  # Path of the suite file written

    def __init__(self) -> None:
        super().__init__()
        self.path: Path | None = None
        self.run_task: tuple[str, str] | None = None  # the run console's (task, answer)
        self.title = QLabel("No suite open.")
        self.title.setObjectName("caption")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.text = QPlainTextEdit()
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.modificationChanged.connect(lambda _=False: self._update())
        self.add_button = QPushButton("Add task from the run console")
        self.add_button.clicked.connect(lambda: self.add_from_run())
        self.save_button = QPushButton("Save suite")
        self.save_button.clicked.connect(lambda: self.save())
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.revert)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._update()

    @property
    def dirty(self) -> bool:
        return self.text.document().isModified()

    def open(self, path: Path) -> bool:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                raise SuiteFileError(f"{path} is larger than {MAX_BYTES // 1000} kB")
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, SuiteFileError) as exc:
            self.status.setText(f"Cannot open {path}: {exc}")
            return False
        self.path = path
        self.text.setPlainText(text)
        self.text.document().setModified(False)
        self.status.setText("")
        self._update()
        return True

    def revert(self) -> None:
        if self.path is not None:
            self.open(self.path)

    def set_run_task(self, task: str, answer: str | None) -> None:
        """The run console's last run: its task and final answer (None: none yet)."""
        self.run_task = (task, answer) if answer is not None else None
        self._update()

    def _update(self) -> None:
        name = self.path.name if self.path else "no suite"
        shipped = (
            " (shipped: Save writes your own copy)" if self.path and is_shipped(self.path) else ""
        )
        self.title.setText(f"{name}{' *' if self.dirty else ''}{shipped}")
        self.save_button.setEnabled(self.path is not None and self.dirty)
        self.revert_button.setEnabled(self.path is not None and self.dirty)
        self.add_button.setEnabled(self.path is not None and self.run_task is not None)
        if self.run_task is not None:
            task, answer = self.run_task
            self.add_button.setToolTip(f"task: {task}\nexpected: {answer}")
        else:
            self.add_button.setToolTip("Run a task in the run console to its final answer first.")

    def add_from_run(self) -> bool:
        """Append the run console's task with its answer as the expectation (not saved)."""
        if self.run_task is None:
            self.status.setText("Run a task in the run console to its final answer first.")
            return False
        task, answer = self.run_task
        text = self.text.toPlainText()
        try:
            new = editing.task_from_run(task, answer, editing.task_ids(text))
            self.text.setPlainText(editing.add_task(text, new))
        except SuiteFileError as exc:
            self.status.setText(f"Not added: {exc}")
            return False
        self.text.document().setModified(True)
        self.text.moveCursor(self.text.textCursor().MoveOperation.End)
        self.status.setText(f"Added task {new['id']!r}: check it, then Save.")
        self._update()
        return True

    def save(self) -> bool:
        """Save if valid (a shipped suite: as the person's own copy). True when saved."""
        if self.path is None:
            return False
        text, target = self.text.toPlainText(), self.path
        try:
            if is_shipped(self.path):
                target = editing.user_suites_dir() / self.path.name
                if target.exists():
                    raise SuiteFileError(
                        f"{target} already exists (your copy of this suite): open that one "
                        "from Suite to edit it"
                    )
                text = editing.relocate(text, self.path.parent, target.parent)
            editing.save_text(target, text)
        except SuiteFileError as exc:
            self.status.setText(f"Not saved: {exc}")
            return False
        self.path = target
        if text != self.text.toPlainText():  # the copy's paths were rewritten
            self.text.setPlainText(text)
        self.text.document().setModified(False)
        self.status.setText(f"Saved {target}")
        report("info", f"saved the suite {target}")
        self._update()
        self.saved.emit(target)
        return True
