"""`QtAgentDesigner`: edit every part of an agent file, with undo/redo, validation marks in
place, the engine's safe save and a live prompt preview beside the form.

The model is `gui.agent_model.AgentModel`; the form is built from `Field`s bound to its
paths (gui/widgets/fields.py, designer_fields.py, designer_tools.py). Opening, creating
and saving a file emit `ctx.agents.opened(path)` and add it to `ctx.recent_agents`.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine import paths
from engine.agent.agentfile import AgentFileError
from engine.agent.templates import SUFFIX, new_agent, templates
from gui.agent_model import AgentModel
from gui.bridge import report
from gui.context import AppContext
from gui.panels.designer_fields import GoalsField, PersonaField
from gui.panels.designer_form import FormPages
from gui.panels.designer_tools import tools_widget
from gui.panels.prompt_preview import QtPromptPreview
from gui.panels.registry import register_panel
from gui.plain import printable
from gui.widgets.fields import Field
from gui.widgets.questions import save_discard_cancel
from gui.widgets.undo_keys import UndoKeys

Answer = QMessageBox.StandardButton


@register_panel("designer", "Agent designer", area="left", order=15, shortcut="Ctrl+5", width=640)
class QtAgentDesigner(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.model = AgentModel(self)
        self.undo_keys = UndoKeys(self.model.undo, self)
        self.fields: list[Field] = []
        self.persona = PersonaField(self.model)
        self.goals = GoalsField(self.model)
        self.tools, self.servers = tools_widget(self.model)
        self.pages = FormPages(self.model, self.persona, self.goals, self.tools, self.servers)
        self.fields = [*self.pages.fields, self.persona, self.goals]
        self.preview = QtPromptPreview(ctx)
        self.title = QLabel()
        self.problems = QLabel()
        self.problems.setTextFormat(Qt.TextFormat.PlainText)  # problems quote the file's text
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._build()
        self.model.changed.connect(self._changed)
        self.model.reset.connect(self._reset)
        self.model.errors_changed.connect(self._mark)
        self.model.undo.cleanChanged.connect(self._clean_changed)
        for field in self.fields:
            self.undo_keys.watch(field.widget)
        self.pages.setEnabled(False)  # until a file is opened or created
        self._update_title()
        QTimer.singleShot(0, self.reopen_last)  # once every panel exists to hear `opened`

    def reopen_last(self) -> None:
        """Open the most recent agent file again (a start of the window); skip it quietly
        if it no longer loads: the person sees it under Recent and can open it for the
        message."""
        if self.model.path is not None:
            return
        for path in self.ctx.recent_agents.items()[:1]:
            try:
                self.model.open(path)
            except AgentFileError:
                return
            self._opened()

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        bar = QHBoxLayout()
        new = QToolButton()
        new.setText("New")
        new.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(new)
        for name in templates():
            action = menu.addAction(name)
            action.triggered.connect(lambda _=False, n=name: self.new_from_template(n))
        new.setMenu(menu)
        self.recent = QToolButton()
        self.recent.setText("Recent")
        self.recent.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent.setMenu(QMenu(self.recent))
        self.recent.menu().aboutToShow.connect(self._fill_recent)
        self.undo_action = self.model.undo.createUndoAction(self, "Undo")
        self.redo_action = self.model.undo.createRedoAction(self, "Redo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        save = QAction("Save", self)
        save.setShortcut(QKeySequence.StandardKey.Save)
        save.triggered.connect(lambda: self.save())
        for action in (self.undo_action, self.redo_action, save):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        bar.addWidget(new)
        for text, slot in (
            ("Open…", self.choose_open),
            ("Save", self.save),
            ("Save As…", self.save_as),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, f=slot: f())
            bar.addWidget(button)
        bar.addWidget(self.recent)
        self.run_suite_button = QPushButton("Run suite")
        self.run_suite_button.setToolTip(
            "Save, then run this agent on its evaluation suite in the Evaluation panel"
        )
        self.run_suite_button.clicked.connect(lambda: self.run_suite())
        bar.addWidget(self.run_suite_button)
        for action in (self.undo_action, self.redo_action):
            tool = QToolButton()
            tool.setDefaultAction(action)
            bar.addWidget(tool)
        bar.addWidget(self.title, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.pages)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(self.preview)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.problems)

    # ---------------------------------------------------------------- model -> view
    def all_fields(self) -> list[Field]:
        return [*self.fields, *self.tools.fields, *self.servers.fields]

    def _reset(self) -> None:
        self.pages.setEnabled(True)
        self.pages.refresh_models()
        for lst in (self.tools, self.servers):
            lst.list.setCurrentRow(0)
            lst.sync(lst.path)
        for field in self.all_fields():
            field.refresh()
        self._update_title()
        self._preview()

    def _changed(self, path: tuple) -> None:
        for lst in (self.tools, self.servers):
            if path and path[0] == lst.path[0]:
                lst.sync(path)
                for field in lst.fields:
                    self.undo_keys.watch(field.widget)
        for field in self.all_fields():
            field.refresh()
        self._update_title()
        self._preview()

    def _mark(self, errors: dict[str, str]) -> None:
        for field in self.all_fields():
            name = field.name
            found = [
                m for f, m in errors.items() if f == name or f.startswith((name + ".", name + "["))
            ]
            field.set_error(found[0] if found else None)
        self.goals.mark_items(errors)
        self.tools.mark(errors)
        self.servers.mark(errors)
        lines = [f"{f}: {m}" for f, m in errors.items()]
        self.problems.setText("\n".join(lines))
        self.problems.setStyleSheet(f"color: {self.ctx.theme.color('error')};" if lines else "")

    def _clean_changed(self, _clean: bool) -> None:
        # the stack also says so while the panel is being destroyed: skip that
        if shiboken6.isValid(self.model.undo) and shiboken6.isValid(self.title):
            self._update_title()

    def _update_title(self) -> None:
        name = self.model.path.name if self.model.path else "no agent open (New or Open…)"
        self.title.setText(f"  {name}{' *' if self.model.dirty else ''}")

    def _preview(self) -> None:
        try:
            spec = self.model.spec()
        except AgentFileError:
            return  # the problems are listed; the preview keeps the last valid agent
        folder = self.model.path.parent if self.model.path else None
        self.preview.show_spec(spec, folder / spec.workspace if folder else None)
        self.ctx.agents.edited.emit(spec)

    # ---------------------------------------------------------------- files
    def confirm_discard(self) -> bool:
        """Unsaved changes: Save / Discard / Cancel. True when it is fine to go on."""
        if not self.model.dirty:
            return True
        answer = save_discard_cancel(
            self, "Unsaved changes", f"{self.title.text().strip()} has unsaved changes. Save them?"
        )
        if answer == Answer.Save:
            return self.save()
        return answer == Answer.Discard

    confirm_close = confirm_discard

    def open_file(self, path: Path | str) -> bool:
        if not self.confirm_discard():
            return False
        try:
            self.model.open(path)
        except AgentFileError as exc:
            report("error", f"cannot open the agent file {path}:\n{exc}")
            self.problems.setText(printable(f"cannot open {path}:\n{exc}"))
            return False
        self._opened()
        return True

    def choose_open(self) -> None:
        start = str(self.model.path.parent if self.model.path else paths.agents_dir())
        name, _ = QFileDialog.getOpenFileName(self, "Open agent", start, f"Agents (*{SUFFIX})")
        if name:
            self.open_file(name)

    def new_from_template(self, template: str, destination: Path | str | None = None) -> bool:
        if not self.confirm_discard():
            return False
        if destination is None:
            start = str(paths.agents_dir() / f"{template}{SUFFIX}")
            destination, _ = QFileDialog.getSaveFileName(self, "New agent", start, f"*{SUFFIX}")
            if not destination:
                return False
        try:
            self.model.load(new_agent(template, _with_suffix(destination)))
        except (AgentFileError, OSError) as exc:
            report("error", f"cannot create the agent: {exc}")
            return False
        self._opened()
        return True

    def save(self) -> bool:
        if self.model.path is None:
            return self.save_as()
        return self._save(self.model.path)

    def save_as(self, destination: Path | str | None = None) -> bool:
        if destination is None:
            start = str(self.model.path or paths.agents_dir())
            destination, _ = QFileDialog.getSaveFileName(self, "Save agent as", start, f"*{SUFFIX}")
            if not destination:
                return False
        return self._save(_with_suffix(destination))

    def _save(self, path: Path) -> bool:
        try:
            self.model.save(path)
        except (AgentFileError, OSError) as exc:
            report("error", f"not saved: {exc}")
            return False
        report("info", f"saved {path}")
        self._opened()
        return True

    def run_suite(self) -> bool:
        """Save (when there are changes), then `ctx.agents.evaluate`: the Evaluation panel
        runs a suite on this file. False when there is no file or it did not save."""
        if self.model.path is None:
            report("warning", "Run suite: open or create an agent first")
            return False
        if self.model.dirty and not self.save():
            return False
        self.ctx.agents.evaluate.emit(self.model.path)
        return True

    def _opened(self) -> None:
        assert self.model.path is not None
        self.ctx.recent_agents.add(self.model.path)
        self.ctx.agents.opened.emit(self.model.path)
        self._update_title()

    def _fill_recent(self) -> None:
        menu = self.recent.menu()
        menu.clear()
        for path in self.ctx.recent_agents.items():
            action = menu.addAction(str(path))
            action.triggered.connect(lambda _=False, p=path: self.open_file(p))
        if menu.isEmpty():
            menu.addAction("(none yet)").setEnabled(False)


def _with_suffix(path: Path | str) -> Path:
    path = Path(path)
    return path if path.name.endswith(SUFFIX) else path.with_name(path.name + SUFFIX)
