"""`QtRunHistory`: past runs (from runs/) as a list; the selected one as read-only step cards."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QSplitter, QVBoxLayout, QWidget

from engine.agent.transcript import read_transcript
from engine.errors import WorkbenchError
from gui.bridge.messages import report
from gui.run_history import RunSummary, list_runs
from gui.theme import Theme
from gui.widgets.step_cards import StepCardList


class QtRunHistory(QWidget):
    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.runs = QListWidget()
        self.runs.currentItemChanged.connect(self.show_run)
        self.cards = StepCardList(theme)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.runs)
        splitter.addWidget(self.cards)
        splitter.setSizes([100, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def refresh(self) -> None:
        """List the transcripts again, keeping the selection."""
        current = self.runs.currentItem()
        keep = current.data(Qt.ItemDataRole.UserRole).path if current else None
        self.runs.blockSignals(True)
        self.runs.clear()
        self.runs.blockSignals(False)
        for summary in list_runs():
            item = QListWidgetItem(summary.label())
            item.setData(Qt.ItemDataRole.UserRole, summary)
            item.setToolTip(str(summary.path))
            self.runs.addItem(item)
            if summary.path == keep:
                self.runs.setCurrentItem(item)

    def show_run(self, item: QListWidgetItem | None) -> None:
        self.cards.clear()
        if item is None:
            return
        summary: RunSummary = item.data(Qt.ItemDataRole.UserRole)
        try:
            _header, events = read_transcript(summary.path)
        except WorkbenchError as exc:
            self.cards.add_event({"type": "Failure", "title": "Cannot read", "message": str(exc)})
            report("warning", str(exc))
            return
        for event in events:
            self.cards.add_event(event)
