"""`QtProfileSessions`: the saved profiling sessions (engine `session_file.list_sessions`).

Open one in the live profiler's read-only view, compare two (the engine's compare table
in a dialog), export the selected one as a Chrome trace or CSV, delete one. Unreadable
files are listed with their error. Every file operation runs in a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import profile_io
from gui.bridge import Worker
from gui.context import AppContext
from gui.panels.registry import register_panel
from gui.widgets.compare_view import CompareDialog

COLUMNS = ("file", "name", "created", "runs", "duration")


@register_panel(
    "profile_sessions", "Profiling sessions", area="bottom", order=32, tab_with="profiler"
)
class QtProfileSessions(QWidget):
    #: (action, result or exception) after each worker
    finished = Signal(str, object)

    def __init__(self, ctx: AppContext, ask: bool = True) -> None:
        super().__init__()
        self.ctx = ctx
        self.ask = ask  # confirm deletions (tests turn it off)
        self.rows: list[dict[str, Any]] = []
        self.dialog: CompareDialog | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.doubleClicked.connect(lambda *_: self.open_selected())
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text, slot in (
            ("refresh", "Refresh", self.refresh),
            ("open", "Open in profiler", self.open_selected),
            ("compare", "Compare two", self.compare_selected),
            ("chrome", "Export trace…", lambda: self.export_selected("chrome")),
            ("csv", "Export CSV…", lambda: self.export_selected("csv")),
            ("delete", "Delete", self.delete_selected),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda *_, s=slot: s())
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch(1)
        self.status = QLabel("")
        self.status.setObjectName("caption")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        ctx.profiles.saved.connect(lambda *_: self.refresh())
        self._listed = False  # listed when first shown: no worker while the window starts

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._listed:
            self._listed = True
            self.refresh()

    def _start(self, name: str, fn: Callable[..., Any], *args: Any,
               on_done: Callable[[Any], None]) -> Worker:  # fmt: skip
        worker = Worker(fn, *args, name=name)
        worker.signals.returned.connect(on_done)
        worker.signals.returned.connect(lambda r: self.finished.emit(name, r))
        worker.signals.errored.connect(lambda exc: self.status.setText(f"{name} failed: {exc}"))
        worker.signals.errored.connect(lambda exc: self.finished.emit(name, exc))
        self.ctx.pool.start(worker)
        return worker

    def refresh(self) -> Worker:
        return self._start("list", profile_io.list_sessions, on_done=self._fill)

    def _fill(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            if "error" in r:
                cells = [r["file"], f"unreadable: {r['error']}", "", "", ""]
            else:
                cells = [r["file"], r["name"], r["created"], str(r["runs"]),
                         f"{r['duration_s']:.1f} s"]  # fmt: skip
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(r.get("error", r["path"]))
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.status.setText(f"{len(rows)} session(s) in the data home's sessions/ folder.")

    def selected(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.rows[r]["path"] for r in rows if r < len(self.rows)]

    def select(self, *paths: str) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QTableWidget.SelectionMode.MultiSelection)
        for i, r in enumerate(self.rows):
            if r["path"] in paths:
                self.table.selectRow(i)
        self.table.setSelectionMode(mode)

    def _one(self) -> str | None:
        chosen = self.selected()
        if len(chosen) != 1:
            self.status.setText("Select one session first.")
            return None
        return chosen[0]

    # ------------------------------------------------------------------ actions
    def open_selected(self) -> Worker | None:
        path = self._one()
        if path is None:
            return None
        return self._start("open", profile_io.load, path, on_done=self._opened)

    def _opened(self, session: Any) -> None:
        self.status.setText(f"Showing {session.path} in the live profiler (read-only).")
        self.ctx.profiles.show.emit(session)

    def compare_selected(self) -> Worker | None:
        chosen = self.selected()
        if len(chosen) != 2:
            self.status.setText("Select two sessions to compare (Ctrl+click).")
            return None
        return self._start("compare", profile_io.compare_files, *chosen, on_done=self._compared)

    def _compared(self, result: dict[str, Any]) -> None:
        self.dialog = CompareDialog(result, self)
        self.dialog.show()

    def export_selected(self, kind: str, out: Path | None = None) -> Worker | None:
        path = self._one()
        if path is None:
            return None
        if out is None:
            pattern = "Trace (*.json)" if kind == "chrome" else "CSV (*.csv)"
            chosen, _ = QFileDialog.getSaveFileName(self, "Export", "", pattern)
            if not chosen:
                return None
            out = profile_io.chosen_export_path(chosen, kind)
        return self._start(
            f"export {kind}",
            _export,
            path,
            kind,
            out,
            on_done=lambda r: self.status.setText(f"Exported {r['path']}"),
        )

    def delete_selected(self) -> Worker | None:
        path = self._one()
        if path is None:
            return None
        if self.ask:
            answer = QMessageBox.question(self, "Delete session", f"Delete {path}?")
            if answer != QMessageBox.StandardButton.Yes:
                return None
        return self._start("delete", profile_io.delete, path, on_done=self._deleted)

    def _deleted(self, path: Path) -> None:
        self.status.setText(f"Deleted {path}")
        self.ctx.profiles.saved.emit(path)


def _export(state: object, path: str, kind: str, out: Path) -> dict[str, Any]:
    session = profile_io.load(state, path)
    fn = profile_io.export_chrome if kind == "chrome" else profile_io.export_csv
    return fn(state, session, out)
