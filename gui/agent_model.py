"""`AgentModel`: the agent file being edited, as plain data with an undo stack.

Every edit is "set the value at a path" (`("planning", "max_steps")`, `("goals", 2)`,
`("tools",)` for a whole list) pushed as a `SetValue` command on a `QUndoStack`; typing
into one field merges into one command. Validation uses the engine's own messages
(`agentfile.errors`: the schema's, then what the tool catalogue would refuse), keyed by
the field they name (`planning.max_steps`, `tools[0].settings.max_bytes`), so views can
mark the widget in place. The view side is `gui.panels.designer.QtAgentDesigner`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.agent import agentfile
from engine.agent.agentfile import AgentFile, AgentFileError
from engine.agent.spec import AgentSpec

Path_ = tuple[Any, ...]
MERGE_ID = 0x6A6E7  # QUndoCommand.id() for typing that merges
PRUNED = ("settings", "env", "headers")  # mappings that go away with their last key


def field_name(path: Path_) -> str:
    """The engine's way of naming a field: `tools[0].settings.max_bytes`."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def get_in(data: Any, path: Path_, default: Any = None) -> Any:
    node = data
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def set_in(data: dict[str, Any], path: Path_, value: Any) -> None:
    """Set (or with `value` None on a mapping key: remove) the value at `path`."""
    node: Any = data
    for key in path[:-1]:
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[key]
    if value is None and isinstance(node, dict):
        node.pop(path[-1], None)
        if not node and len(path) > 1 and path[-2] in PRUNED:
            set_in(data, path[:-1], None)  # a tool's last setting gone: no `settings: {}`
    else:
        node[path[-1]] = value


class SetValue(QUndoCommand):
    def __init__(self, model: AgentModel, path: Path_, new: Any, text: str, merge: bool) -> None:
        super().__init__(text)
        self.model, self.path, self.merge = model, path, merge
        self.old = copy.deepcopy(get_in(model.data, path))
        self.new = copy.deepcopy(new)

    def id(self) -> int:
        return MERGE_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetValue) or other.path != self.path or not other.merge:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.model.apply(self.path, self.new)

    def undo(self) -> None:
        self.model.apply(self.path, self.old)


class AgentModel(QObject):
    """One agent file's editable state: data, file, undo stack, validation errors."""

    changed = Signal(object)  # the path that changed (tuple)
    reset = Signal()  # a new document was loaded (rebuild every view)
    errors_changed = Signal(object)  # dict field name -> message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo = QUndoStack(self)
        self.path: Path | None = None
        self.original: AgentFile | None = None
        self.data: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.local_errors: dict[str, str] = {}  # text a widget cannot turn into a value

    # ---------------------------------------------------------------- documents
    def load(self, agent: AgentFile) -> None:
        self.original = agent
        self.path = agent.path
        self.data = agent.spec.to_data()
        self.undo.clear()
        self.local_errors.clear()
        self.reset.emit()
        self.validate()

    def open(self, path: Path | str) -> None:
        """Raises AgentFileError (with the validator's message); the model is unchanged then."""
        self.load(agentfile.load(path))

    def save(self, path: Path | str | None = None) -> AgentFile:
        """The engine's safe save (comments and order of the opened file are kept)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise AgentFileError("this agent has no file yet; use Save As")
        if self.local_errors:
            field, msg = next(iter(self.local_errors.items()))
            raise AgentFileError(f"cannot save: {field}: {msg}")
        saved = agentfile.save(self.spec(), target, self.original)
        self.original, self.path = saved, saved.path
        self.undo.setClean()
        return saved

    @property
    def dirty(self) -> bool:
        return not self.undo.isClean()

    def spec(self) -> AgentSpec:
        """The edited agent; raises AgentFileError listing every problem."""
        problems = self.messages()
        if problems:
            raise AgentFileError("\n".join(f"{k}: {v}" for k, v in problems.items()))
        try:
            return AgentSpec.from_data(copy.deepcopy(self.data))
        except (TypeError, ValueError) as exc:
            raise AgentFileError(str(exc)) from exc

    # ---------------------------------------------------------------- edits
    def set(self, path: Path_, value: Any, text: str = "", merge: bool = False) -> None:
        if get_in(self.data, path) == value:
            return
        self.undo.push(
            SetValue(self, tuple(path), value, text or f"edit {field_name(path)}", merge)
        )

    def apply(self, path: Path_, value: Any) -> None:
        set_in(self.data, path, copy.deepcopy(value))
        self.validate()  # first: views that follow `changed` see the new errors
        self.changed.emit(path)

    def set_local_error(self, field: str, message: str | None) -> None:
        if message:
            self.local_errors[field] = message
        else:
            self.local_errors.pop(field, None)
        self.errors_changed.emit(self.messages())

    # ---------------------------------------------------------------- validation
    def validate(self) -> dict[str, str]:
        """Field name -> the validator's message (the engine's schema and tool checks)."""
        found: dict[str, str] = {}
        for line in agentfile.errors(self.data):
            field, _, message = line.removeprefix("agent file: ").partition(": ")
            found.setdefault(field, message)
        if not found:
            try:
                AgentSpec.from_data(copy.deepcopy(self.data))
            except (TypeError, ValueError) as exc:
                found["model.sampling"] = str(exc)
        self.errors = found
        self.errors_changed.emit(self.messages())
        return found

    def messages(self) -> dict[str, str]:
        return {**self.errors, **self.local_errors}
