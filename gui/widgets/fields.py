"""Form fields bound to one path of an `AgentModel`: edits push undo commands, the model's
changes refresh the widget, validation messages mark it in place (red border + tooltip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLineEdit, QWidget

from gui.agent_model import AgentModel, Path_, field_name, get_in

INVALID_STYLE = "border: 1px solid #e5484d;"


def mark(widget: QWidget, message: str | None, hint: str = "") -> None:
    """Show `message` on `widget` (None clears it)."""
    widget.setProperty("invalid", bool(message))
    widget.setStyleSheet(INVALID_STYLE if message else "")
    widget.setToolTip(message or hint)


class Field:
    """The common part: path, model, marking. Subclasses implement `show` and edits."""

    widget: QWidget

    def __init__(self, model: AgentModel, path: Path_, hint: str = "") -> None:
        self.model, self.path, self.hint = model, tuple(path), hint
        self.name = field_name(self.path)
        self._updating = False

    def value(self) -> Any:
        return get_in(self.model.data, self.path)

    def refresh(self) -> None:
        self._updating = True
        try:
            self.show(self.value())
        finally:
            self._updating = False

    def show(self, value: Any) -> None:
        raise NotImplementedError

    def commit(self, value: Any, merge: bool = False) -> None:
        if not self._updating:
            self.model.set(self.path, value, f"edit {self.name}", merge)

    def set_error(self, message: str | None) -> None:
        mark(self.widget, message, self.hint)


class TextField(Field):
    def __init__(
        self, model: AgentModel, path: Path_, hint: str = "", optional: bool = False
    ) -> None:
        super().__init__(model, path, hint)
        self.optional = optional
        self.widget = self.edit = QLineEdit()
        self.edit.setPlaceholderText(hint)
        self.edit.textEdited.connect(self._edited)

    def _edited(self, text: str) -> None:
        self.commit(None if self.optional and not text else text, merge=True)

    def show(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.edit.text() != text:
            self.edit.setText(text)


class NumberField(Field):
    """A number typed as text, so an out-of-range value can be shown with its message."""

    def __init__(
        self,
        model: AgentModel,
        path: Path_,
        kind: type = int,
        hint: str = "",
        optional: bool = False,
    ) -> None:
        super().__init__(model, path, hint)
        self.kind, self.optional = kind, optional
        self.widget = self.edit = QLineEdit()
        self.edit.setPlaceholderText(hint)
        self.edit.textEdited.connect(self._edited)

    def _edited(self, text: str) -> None:
        text = text.strip()
        if not text and self.optional:
            value: Any = None
        else:
            try:
                value = self.kind(text)
            except ValueError:
                word = "a whole number" if self.kind is int else "a number"
                self.model.set_local_error(self.name, f"{text!r} is not {word}")
                return
        self.model.set_local_error(self.name, None)
        self.commit(value, merge=True)

    def parsed(self) -> Any:
        """The typed value, or a marker when the text is not a number."""
        text = self.edit.text().strip()
        try:
            return self.kind(text) if text else None
        except ValueError:
            return ValueError

    def show(self, value: Any) -> None:
        if self.parsed() != value or type(self.parsed()) is not type(value):
            self.edit.setText("" if value is None else str(value))
            self.model.set_local_error(self.name, None)


class ChoiceField(Field):
    def __init__(
        self,
        model: AgentModel,
        path: Path_,
        choices: Sequence[str],
        hint: str = "",
        edit: bool = False,
    ) -> None:
        super().__init__(model, path, hint)
        self.widget = self.combo = QComboBox()
        self.combo.setEditable(edit)
        self.combo.addItems(list(choices))
        if edit:
            self.combo.editTextChanged.connect(lambda t: self.commit(t, merge=True))
        else:
            self.combo.currentTextChanged.connect(lambda t: self.commit(t))

    def show(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.combo.findText(text) < 0 and text:
            self.combo.addItem(text)
        if self.combo.currentText() != text:
            self.combo.setCurrentText(text)


class BoolField(Field):
    def __init__(self, model: AgentModel, path: Path_, label: str, hint: str = "") -> None:
        super().__init__(model, path, hint)
        self.widget = self.box = QCheckBox(label)
        self.box.toggled.connect(lambda on: self.commit(bool(on)))

    def show(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class MultiChoiceField(Field):
    """A list of distinct choices as checkboxes (memory.remember)."""

    def __init__(
        self, model: AgentModel, path: Path_, choices: Sequence[str], hint: str = ""
    ) -> None:
        super().__init__(model, path, hint)
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        self.boxes = {c: QCheckBox(c) for c in choices}
        for box in self.boxes.values():
            row.addWidget(box)
            box.toggled.connect(self._toggled)
        row.addStretch(1)

    def _toggled(self) -> None:
        self.commit([c for c, box in self.boxes.items() if box.isChecked()])

    def show(self, value: Any) -> None:
        chosen = set(value or ())
        for choice, box in self.boxes.items():
            box.setChecked(choice in chosen)
