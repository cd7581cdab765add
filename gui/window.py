"""`MainWindow`: one dock per registered panel, menus, shortcuts, remembered state."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu, QMessageBox, QWidget

from gui.bridge.messages import Message, message_bridge
from gui.context import AppContext
from gui.panels import load_builtin_panels
from gui.panels.registry import registered_panels
from gui.theme import THEMES, apply_theme

_AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "top": Qt.DockWidgetArea.TopDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}
STATE_VERSION = 1


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
        for spec in registered_panels():
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
        self._build_menus(file_menu, view)
        self.provider_label = QLabel("no model loaded")
        self.statusBar().addPermanentWidget(self.provider_label)
        message_bridge().message.connect(self.show_message)
        ctx.sessions.changed.connect(
            lambda s: self.provider_label.setText(f"{s.manifest.name}: {s.provider.describe()}")
        )
        self.resize(1400, 900)
        self.restore_state()

    def _build_menus(self, file_menu: QMenu, view_menu: QMenu) -> None:
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
    def restore_state(self) -> None:
        s = self.ctx.settings
        geometry = s.value("window/geometry")
        state = s.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, STATE_VERSION)

    def save_state(self) -> None:
        s = self.ctx.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(STATE_VERSION))
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.ctx.shutdown()
        super().closeEvent(event)
