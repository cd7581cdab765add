"""`MainWindow`: one dock per registered panel, menus, shortcuts, remembered state."""

from __future__ import annotations

import zlib
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QWidget,
)

from gui.bridge import Worker
from gui.bridge.messages import Message, message_bridge
from gui.context import AppContext
from gui.panels import load_builtin_panels
from gui.panels.registry import registered_panels
from gui.sessions import load_session
from gui.settings import RecentFiles
from gui.theme import THEMES, apply_theme

_AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "top": Qt.DockWidgetArea.TopDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}
#: Saved window layouts are kept while the set of panels stays the same; a release that
#: adds or removes a panel starts from the default arrangement again.
STATE_BASE = 2


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("Agent Workbench")
        self.setDockNestingEnabled(True)
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        load_builtin_panels()
        file_menu = self.menuBar().addMenu("&File")
        view = self.menuBar().addMenu("&View")
        self.specs = registered_panels()
        for spec in self.specs:
            widget = spec.factory(ctx)
            dock = QDockWidget(spec.title, self)
            dock.setObjectName(f"dock-{spec.id}")
            dock.setWidget(widget)
            self.addDockWidget(_AREAS[spec.area], dock)
            toggle = dock.toggleViewAction()
            if spec.shortcut:
                toggle.setShortcut(QKeySequence(spec.shortcut))
            view.addAction(toggle)
            self.panels[spec.id] = widget
            self.docks[spec.id] = dock
        #: the panels others share a dock with as tabs (in front on the first start)
        self.tab_hosts = {s.tab_with for s in self.specs if s.tab_with in self.docks}
        for spec in self.specs:  # panels that share another's dock as a tab
            if spec.tab_with in self.docks:
                self.tabifyDockWidget(self.docks[spec.tab_with], self.docks[spec.id])
                self.docks[spec.tab_with].raise_()
        self._build_menus(file_menu, view)
        self.provider_label = QLabel("no model loaded")
        self.statusBar().addPermanentWidget(self.provider_label)
        message_bridge().message.connect(self.show_message)
        ctx.sessions.changed.connect(
            lambda s: self.provider_label.setText(f"{s.manifest.name}: {s.provider.describe()}")
        )
        self.recent_folders = RecentFiles(ctx.settings, "model_folders")
        self.resize(1400, 900)
        self._first_start = not self.restore_state()

    def _build_menus(self, file_menu: QMenu, view_menu: QMenu) -> None:
        open_action = QAction("&Open prepared model folder…", self, shortcut=QKeySequence("Ctrl+O"))
        open_action.triggered.connect(self._choose_model_folder)
        file_menu.addAction(open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu.addSeparator()
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            action = QAction(f"{name.title()} theme", self, checkable=True)
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            view_menu.addAction(action)
            self.theme_actions[name] = action
        toggle = QAction("Toggle theme", self, shortcut=QKeySequence("Ctrl+Shift+L"))
        toggle.triggered.connect(self.toggle_theme)
        view_menu.addAction(toggle)
        self.theme_actions[self.ctx.theme.name].setChecked(True)
        help_menu = self.menuBar().addMenu("&Help")
        keys = QAction("Keyboard shortcuts", self, shortcut=QKeySequence("F1"))
        keys.triggered.connect(self.show_shortcuts)
        help_menu.addAction(keys)

    # ------------------------------------------------------------------ files
    def _choose_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Prepared model folder (with model.json)")
        if path:
            self.open_model_folder(Path(path))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_folders.items():
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _=False, p=path: self.open_model_folder(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(nothing yet)").setEnabled(False)

    def open_model_folder(self, folder: Path) -> Worker:
        """Load a prepared folder from anywhere (in a worker) and remember it."""
        self.recent_folders.add(folder)
        worker = Worker(load_session, self.ctx.sessions, str(folder), "auto", name="open model")
        self.ctx.pool.start(worker)
        return worker

    # ------------------------------------------------------------------ theme
    def set_theme(self, name: str) -> None:
        from PySide6.QtWidgets import QApplication

        self.ctx.set_theme(name)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.ctx.theme)
        for n, action in self.theme_actions.items():
            action.setChecked(n == name)

    def toggle_theme(self) -> None:
        self.set_theme("light" if self.ctx.theme.name == "dark" else "dark")

    def shortcut_lines(self) -> list[str]:
        lines = []
        for action in self.findChildren(QAction):
            seq = action.shortcut().toString()
            if seq and action.text():
                lines.append(f"{seq:<16} {action.text().replace('&', '')}")
        lines += [
            "Ctrl+Return      Run (console)",
            "Escape           Stop (console)",
            "F5               Refresh models",
        ]
        return sorted(set(lines))

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join(self.shortcut_lines()))

    # ------------------------------------------------------------------ messages
    def show_message(self, msg: Message) -> None:
        color = self.ctx.theme.color(msg.level) if msg.level != "info" else ""
        self.statusBar().setStyleSheet(f"color: {color};" if color else "")
        self.statusBar().showMessage(msg.text, 15000 if msg.level == "info" else 0)

    # ------------------------------------------------------------------ state
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._first_start:  # docks can only be sized once the window is laid out
            self._first_start = False
            QTimer.singleShot(0, self._default_layout)

    def _default_layout(self) -> None:
        """First start: the panels others are tabbed with in front; the registered sizes."""
        for spec in self.specs:  # raise_() only sticks once shown
            if spec.id in self.tab_hosts:
                self.docks[spec.id].raise_()
        for spec in self.specs:
            dock = self.docks[spec.id]
            if spec.width:
                self.resizeDocks([dock], [spec.width], Qt.Orientation.Horizontal)
            if spec.height:
                self.resizeDocks([dock], [spec.height], Qt.Orientation.Vertical)

    def state_version(self) -> int:
        ids = ",".join(sorted(self.docks))
        return STATE_BASE * 100_000 + zlib.crc32(ids.encode()) % 100_000

    def restore_state(self) -> bool:
        s = self.ctx.settings
        geometry = s.value("window/geometry")
        state = s.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            return bool(self.restoreState(state, self.state_version()))
        return False

    def save_state(self) -> None:
        s = self.ctx.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(self.state_version()))
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        for panel in self.panels.values():  # e.g. the designer's unsaved-changes prompt
            confirm = getattr(panel, "confirm_close", None)
            if confirm is not None and not confirm():
                event.ignore()
                return
        self.save_state()
        self.ctx.shutdown()
        super().closeEvent(event)
