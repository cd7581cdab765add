"""A settings form generated from a built-in tool's settings JSON Schema.

Each property becomes one field at `tools[i].settings.<name>`: enums and booleans a combo
box whose first entry is "default", numbers and strings a line (empty: the default),
arrays of strings a comma-separated line. Values out of the schema's range are kept and
marked with the validator's message, like every other field.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from gui.agent_model import AgentModel, Path_
from gui.widgets.fields import Field

DEFAULT = "default"


def _default_text(spec: dict[str, Any]) -> str:
    return f"{DEFAULT} ({json.dumps(spec['default'])})" if "default" in spec else DEFAULT


class SettingField(Field):
    def __init__(self, model: AgentModel, path: Path_, spec: dict[str, Any]) -> None:
        super().__init__(model, path, str(spec.get("description", "")))
        self.spec = spec
        self.choices: list[Any] | None = None
        if "enum" in spec or spec.get("type") == "boolean":
            self.choices = list(spec.get("enum", [True, False]))
            self.widget = self.combo = QComboBox()
            self.combo.addItems([_default_text(spec), *(json.dumps(c) for c in self.choices)])
            self.combo.currentIndexChanged.connect(self._chosen)
        else:
            self.widget = self.edit = QLineEdit()
            self.edit.setPlaceholderText(_default_text(spec))
            self.edit.textEdited.connect(self._typed)
        self.widget.setToolTip(self.hint)

    def _chosen(self, index: int) -> None:
        assert self.choices is not None
        self.commit(None if index <= 0 else self.choices[index - 1])

    def _parse(self, text: str) -> Any:
        """The value of `text` for this setting (raises ValueError for a bad number)."""
        kind = self.spec.get("type")
        value: Any = text.strip() or None
        if value is not None and kind in ("integer", "number"):
            return int(value) if kind == "integer" else float(value)
        if value is not None and kind == "array":
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    def _typed(self, text: str) -> None:
        try:
            value = self._parse(text)
        except ValueError:
            self.model.set_local_error(self.name, f"{text!r} is not a {self.spec.get('type')}")
            return
        self.model.set_local_error(self.name, None)
        self.commit(value, merge=True)

    def show(self, value: Any) -> None:
        if self.choices is not None:
            self.combo.setCurrentIndex(
                self.choices.index(value) + 1 if value in self.choices else 0
            )
            return
        text = ", ".join(value) if isinstance(value, list) else "" if value is None else str(value)
        try:
            same = self._parse(self.edit.text()) == value
        except ValueError:
            same = False
        if not same:
            self.edit.setText(text)


def settings_fields(
    model: AgentModel, tool_path: Path_, schema: dict[str, Any]
) -> tuple[QWidget, list[Field]]:
    """The form for one built-in tool's settings, and its fields."""
    form_widget = QWidget()
    form = QFormLayout(form_widget)
    form.setContentsMargins(0, 0, 0, 0)
    fields: list[Field] = []
    for name, spec in (schema.get("properties") or {}).items():
        field = SettingField(model, (*tool_path, "settings", name), spec)
        form.addRow(name, field.widget)
        fields.append(field)
    if not fields:
        form.addRow(QLabel("this tool has no settings"))
    return form_widget, fields
