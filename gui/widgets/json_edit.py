"""`QtJsonEdit`: JSON text that is checked as the person types.

In schema mode the value must be a valid JSON Schema (Draft 2020-12 meta-schema, as the
tool registry checks it); otherwise it may be checked against `instance_schema`. Only a
value that passes reaches the model; the problem is shown under the editor and marks it.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from gui.agent_model import AgentModel, Path_
from gui.widgets.fields import Field, mark


def problem(text: str, schema_mode: bool, instance_schema: dict[str, Any] | None) -> str | None:
    """What is wrong with `text` (None: fine)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    if schema_mode:
        if not isinstance(value, dict):
            return 'a JSON Schema here is an object, e.g. {"type": "object", "properties": {}}'
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
            return f"not a valid JSON Schema at {where}: {exc.message}"
    elif instance_schema is not None:
        validator = jsonschema.Draft202012Validator(instance_schema)
        for error in validator.iter_errors(value):
            where = "".join(f"[{p}]" for p in error.absolute_path) or "(top level)"
            return f"{where}: {error.message}"
    return None


class JsonField(Field):
    def __init__(
        self,
        model: AgentModel,
        path: Path_,
        schema_mode: bool = False,
        instance_schema: dict[str, Any] | None = None,
        allow_empty: bool = False,
        empty: Any = None,
        hint: str = "",
    ) -> None:
        super().__init__(model, path, hint)
        self.schema_mode, self.instance_schema = schema_mode, instance_schema
        self.allow_empty, self.empty = allow_empty, empty
        self.widget = QWidget()
        self.edit = QPlainTextEdit()
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setUndoRedoEnabled(False)  # the designer's undo stack owns undo
        self.edit.setPlaceholderText(hint)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.status)
        self.edit.textChanged.connect(self._edited)

    def _edited(self) -> None:
        if self._updating:
            return
        text = self.edit.toPlainText()
        if not text.strip() and self.allow_empty:
            self.model.set_local_error(self.name, None)
            self.commit(self.empty, merge=True)
            return
        found = problem(text, self.schema_mode, self.instance_schema)
        self.model.set_local_error(self.name, found)
        if found is None:
            self.commit(json.loads(text), merge=True)

    def show(self, value: Any) -> None:
        current = self.edit.toPlainText()
        try:
            same = json.loads(current) == value
        except json.JSONDecodeError:
            same = False
        if not same:
            blank = value is None or (self.allow_empty and value == self.empty)
            self.edit.setPlainText("" if blank else json.dumps(value, indent=2))
            self.model.set_local_error(self.name, None)

    def set_error(self, message: str | None) -> None:
        mark(self.edit, message, self.hint)
        self.status.setText(message or ("valid JSON Schema" if self.schema_mode else ""))
