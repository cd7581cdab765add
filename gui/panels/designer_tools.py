"""The designer's tool catalogue: built-ins with their settings forms, command tools with a
JSON Schema editor for their parameters, and MCP servers; each with its approval policy.

`QtEntryList` is the shared shape: a list of entries at one path (`tools`,
`mcp_servers`) with add/remove buttons and a detail form for the selected entry.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.tools.catalog import BUILTINS
from gui.agent_model import AgentModel, Path_, field_name, get_in
from gui.widgets.fields import ChoiceField, Field, NumberField, TextField
from gui.widgets.json_edit import JsonField
from gui.widgets.schema_form import settings_fields

APPROVALS = ("auto", "ask", "deny")
NEW_COMMAND = {
    "name": "my_tool",
    "kind": "command",
    "description": "what the tool does, for the model",
    "parameters": {"type": "object", "properties": {}},
    "command": "echo",
    "approval": "ask",
}
NEW_SERVER = {"name": "server", "transport": "stdio", "command": "my-mcp-server"}


class ApprovalField(ChoiceField):
    """auto / ask / deny, or the tool's own default (the key left out)."""

    def __init__(self, model: AgentModel, path: Path_, default: str) -> None:
        super().__init__(model, path, [f"default ({default})", *APPROVALS])
        self.combo.currentTextChanged.disconnect()
        self.combo.currentIndexChanged.connect(
            lambda i: self.commit(APPROVALS[i - 1] if i > 0 else None)
        )

    def show(self, value: Any) -> None:
        self.combo.setCurrentIndex(APPROVALS.index(value) + 1 if value in APPROVALS else 0)


class CommandField(TextField):
    """A command as one line; a list in the file stays a list (split like a shell)."""

    def _edited(self, text: str) -> None:
        if isinstance(self.value(), list):
            try:
                self.commit(shlex.split(text), merge=True)
            except ValueError as exc:
                self.model.set_local_error(self.name, f"cannot split the command: {exc}")
                return
            self.model.set_local_error(self.name, None)
        else:
            self.commit(text, merge=True)

    def show(self, value: Any) -> None:
        text = shlex.join(value) if isinstance(value, list) else str(value or "")
        if self.edit.text() != text and not (
            isinstance(value, list) and _splits(self.edit.text()) == value
        ):
            self.edit.setText(text)


def _splits(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def tool_form(model: AgentModel, path: Path_) -> tuple[QWidget, list[Field]]:
    entry = get_in(model.data, path) or {}
    widget = QWidget()
    form = QFormLayout(widget)
    form.setContentsMargins(0, 0, 0, 0)
    fields: list[Field] = []
    if entry.get("kind") == "command":
        rows: list[tuple[str, Field]] = [
            ("name", TextField(model, (*path, "name"), "letters, digits, _ . -")),
            ("description", TextField(model, (*path, "description"))),
            ("command", CommandField(model, (*path, "command"), "program and arguments")),
            ("timeout (s)", NumberField(model, (*path, "timeout_s"), float, "none", True)),
            ("working folder", TextField(model, (*path, "cwd"), "the workspace", True)),
            ("approval", ApprovalField(model, (*path, "approval"), "auto")),
        ]
        params = JsonField(model, (*path, "parameters"), schema_mode=True, hint="JSON Schema")
        params.widget.setMinimumHeight(140)
        rows.append(("parameters", params))
    else:
        spec = BUILTINS.get(str(entry.get("name")))
        default = spec.approval if spec else "auto"
        about = QLabel(spec.description if spec else "memory tool (supplied when memory is on)")
        about.setWordWrap(True)
        form.addRow(QLabel(f"<b>{entry.get('name')}</b> (built-in)"))
        form.addRow(about)
        rows = [("approval", ApprovalField(model, (*path, "approval"), default))]
        if spec is not None:
            settings, more = settings_fields(model, path, spec.settings_schema)
            fields.extend(more)
            form.addRow(QLabel("settings"))
            form.addRow(settings)
    for label, field in rows:
        form.addRow(label, field.widget)
        fields.append(field)
    return widget, fields


def server_form(model: AgentModel, path: Path_) -> tuple[QWidget, list[Field]]:
    widget = QWidget()
    form = QFormLayout(widget)
    form.setContentsMargins(0, 0, 0, 0)
    env = JsonField(model, (*path, "env"), allow_empty=True, hint='{"NAME": "value"}')
    env.instance_schema = {"type": "object", "additionalProperties": {"type": "string"}}
    env.widget.setMaximumHeight(90)
    rows: list[tuple[str, Field]] = [
        ("name", TextField(model, (*path, "name"))),
        ("transport", ChoiceField(model, (*path, "transport"), ["stdio", "http"])),
        ("command", CommandField(model, (*path, "command"), "stdio: program", optional=True)),
        ("url", TextField(model, (*path, "url"), "http: https://...", optional=True)),
        ("approval", ApprovalField(model, (*path, "approval"), "auto")),
        ("env", env),
    ]
    for label, field in rows:
        form.addRow(label, field.widget)
    return widget, [f for _, f in rows]


class QtEntryList(QWidget):
    """Entries at `path` (a list of mappings): list, add/remove, the selected one's form."""

    def __init__(
        self,
        model: AgentModel,
        path: Path_,
        form: Callable[[AgentModel, Path_], tuple[QWidget, list[Field]]],
        label: Callable[[dict[str, Any]], str],
    ) -> None:
        super().__init__()
        self.model, self.path, self._form, self._label = model, path, form, label
        self.fields: list[Field] = []
        self.list = QListWidget()
        self.list.currentRowChanged.connect(lambda _: self.show_detail())
        self.add = QPushButton("Add")
        self.remove = QPushButton("Remove")
        self.remove.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add)
        buttons.addWidget(self.remove)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addLayout(buttons)
        self.detail = QVBoxLayout()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(left, 2)
        row.addLayout(self.detail, 3)

    def entries(self) -> list[dict[str, Any]]:
        return list(get_in(self.model.data, self.path) or [])

    def append(self, entry: dict[str, Any], text: str) -> None:
        self.model.set(self.path, [*self.entries(), dict(entry)], text)
        self.list.setCurrentRow(len(self.entries()) - 1)

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        entries = self.entries()
        if 0 <= row < len(entries):
            name = entries[row].get("name")
            self.model.set(self.path, entries[:row] + entries[row + 1 :], f"remove {name}")

    def sync(self, changed: Path_) -> None:
        """Follow a model change: relabel, and rebuild the form when the list changed."""
        entries = self.entries()
        row = self.list.currentRow()
        self.list.blockSignals(True)
        while self.list.count() > len(entries):
            self.list.takeItem(self.list.count() - 1)
        for i, entry in enumerate(entries):
            if i >= self.list.count():
                self.list.addItem(self._label(entry))
            self.list.item(i).setText(self._label(entry))
        self.list.setCurrentRow(min(max(row, 0), len(entries) - 1))
        self.list.blockSignals(False)
        if tuple(changed) == tuple(self.path) or not self.fields:
            self.show_detail()

    def show_detail(self) -> None:
        while self.detail.count():
            item = self.detail.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        stale = [f.name for f in self.fields if f.name in self.model.local_errors]
        for name in stale:  # their text goes; the model keeps its last valid value
            self.model.set_local_error(name, None)
        self.fields = []
        row = self.list.currentRow()
        if 0 <= row < len(self.entries()):
            widget, self.fields = self._form(self.model, (*self.path, row))
            self.detail.addWidget(widget)
            for field in self.fields:
                field.refresh()
        self.detail.addStretch(1)
        self.mark(self.model.messages())

    def mark(self, errors: dict[str, str]) -> None:
        for i in range(self.list.count()):
            prefix = field_name((*self.path, i))
            bad = [m for f, m in errors.items() if f == prefix or f.startswith(prefix + ".")]
            item = self.list.item(i)
            item.setForeground(QColor("#e5484d") if bad else self.palette().text().color())
            item.setToolTip(bad[0] if bad else "")


def builtin_menu(parent: QWidget, add: Callable[[str], None]) -> QMenu:
    menu = QMenu(parent)
    for name, spec in BUILTINS.items():
        action = menu.addAction(name)
        action.setToolTip(spec.description)
        action.triggered.connect(lambda _=False, n=name: add(n))
    return menu


def _builtin_entry(name: str) -> dict[str, Any]:
    return {"name": name, "approval": BUILTINS[name].approval}


def tool_label(entry: dict[str, Any]) -> str:
    kind = "command" if entry.get("kind") == "command" else "built-in"
    return f"{entry.get('name')}  [{kind}, {entry.get('approval') or 'default'}]"


def server_label(entry: dict[str, Any]) -> str:
    return f"{entry.get('name')}  [{entry.get('transport')}]"


def tools_widget(model: AgentModel) -> tuple[QtEntryList, QtEntryList]:
    tools = QtEntryList(model, ("tools",), tool_form, tool_label)
    menu = QMenu(tools)
    builtins = builtin_menu(menu, lambda n: tools.append(_builtin_entry(n), f"add tool {n}"))
    builtins.setTitle("Built-in")
    menu.addMenu(builtins)
    menu.addAction("Command tool", lambda: tools.append(NEW_COMMAND, "add command tool"))
    tools.add.setMenu(menu)
    servers = QtEntryList(model, ("mcp_servers",), server_form, server_label)
    servers.add.clicked.connect(lambda: servers.append(NEW_SERVER, "add MCP server"))
    for lst in (tools, servers):
        lst.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        lst.list.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    return tools, servers
