"""Parts of the memory browser: the item view/editor, the stats box, the forget dialog."""

from __future__ import annotations

import html
import json
import time
from typing import Any

from PySide6.QtCore import QDate, QDateTime, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.memory.items import MemoryItem
from gui.memory_store import KINDS
from gui.panels.memory_models import when
from gui.plain import printable


class QtMemoryItemView(QGroupBox):
    """One item in full: its text (editable), metadata, and pin / save / delete."""

    save_requested = Signal(int, str)
    pin_requested = Signal(int, bool)
    delete_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Item", parent)
        self.item: MemoryItem | None = None
        self.header = QLabel("Select an item to see it in full.")
        self.header.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.textChanged.connect(self._changed)
        self.meta = QPlainTextEdit(readOnly=True)
        self.meta.setMaximumHeight(80)
        self.save = QPushButton("Save text (re-embeds)")
        self.save.clicked.connect(self._save)
        self.pin = QPushButton("Pin")
        self.pin.clicked.connect(self._pin)
        self.delete = QPushButton("Delete")
        self.delete.clicked.connect(self.delete_requested)
        row = QHBoxLayout()
        for button in (self.save, self.pin, self.delete):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.text, 1)
        layout.addWidget(QLabel("Metadata"))
        layout.addWidget(self.meta)
        layout.addLayout(row)
        self.show_item(None)

    def show_item(self, item: MemoryItem | None) -> None:
        self.item = item
        self.text.blockSignals(True)
        self.text.setPlainText(item.text if item else "")
        self.text.blockSignals(False)
        self.text.setEnabled(item is not None)
        self.meta.setPlainText(json.dumps(item.metadata, indent=1) if item else "")
        for button in (self.pin, self.delete):
            button.setEnabled(item is not None)
        self.save.setEnabled(False)
        if item is None:
            self.header.setText("Select an item to see it in full.")
            return
        self.pin.setText("Unpin" if item.pinned else "Pin")
        source = html.escape(printable(item.source or ""))  # a file name: any text at all
        where = f" · {source} #{item.position}" if item.source else ""
        self.header.setText(
            f"<b>#{item.id}</b> {item.kind}{' · pinned ★' if item.pinned else ''} · created "
            f"{when(item.created)} · updated {when(item.updated)}{where}"
        )

    def _changed(self) -> None:
        edited = self.item is not None and self.text.toPlainText() != self.item.text
        self.save.setEnabled(edited and bool(self.text.toPlainText().strip()))

    def _save(self) -> None:
        if self.item is not None:
            self.save.setEnabled(False)
            self.save_requested.emit(self.item.id, self.text.toPlainText())

    def _pin(self) -> None:
        if self.item is not None:
            self.pin_requested.emit(self.item.id, not self.item.pinned)


def _mb(size: float) -> str:
    return f"{size / 1e6:,.2f} MB" if size >= 1e5 else f"{size / 1e3:,.1f} kB"


class QtMemoryStats(QGroupBox):
    """Items per kind, the index (flat or HNSW), file sizes, the embedder; Rebuild."""

    rebuild_requested = Signal(bool)  # re-embed first

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Index and stats", parent)
        self.lines: dict[str, QLabel] = {}
        form = QFormLayout()
        for key in ("items", "index", "embedder", "files"):
            label = QLabel("")
            label.setWordWrap(True)
            self.lines[key] = label
            form.addRow(key, label)
        self.reembed = QCheckBox("re-embed every item first (after changing the embedder)")
        self.rebuild = QPushButton("Rebuild index")
        self.rebuild.clicked.connect(lambda: self.rebuild_requested.emit(self.reembed.isChecked()))
        row = QHBoxLayout()
        row.addWidget(self.rebuild)
        row.addWidget(self.reembed, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        self.show_stats(None)

    def show_stats(self, stats: dict[str, Any] | None) -> None:
        self.rebuild.setEnabled(stats is not None)
        if stats is None:
            for label in self.lines.values():
                label.setText("–")
            return
        kinds = " · ".join(f"{k} {stats['kinds'].get(k, 0):,}" for k in KINDS)
        self.lines["items"].setText(
            f"<b>{stats['items']:,}</b> ({kinds}); pinned {stats['pinned']:,}; "
            f"{stats['documents']:,} ingested files"
        )
        index = stats["index"]
        kind = {"flat": "flat (exact inner product)", "hnsw": "HNSW"}.get(
            str(index["kind"]), str(index["kind"] or "none yet")
        )
        self.lines["index"].setText(
            f"{kind} · {index['live']:,} vectors · {index['dead_rows']:,} dead rows · "
            f"{index['device']}"
        )
        dim = stats["dimension"]
        self.lines["embedder"].setText(
            f"{stats['embedder'] or 'none yet'}{f' ({dim}-d)' if dim else ''}"
        )
        self.lines["files"].setText(
            " · ".join(f"{name} {_mb(size)}" for name, size in stats["bytes"].items())
            + f"<br>{stats['folder']} (schema v{stats['schema_version']})"
        )

    def text(self) -> str:
        return "\n".join(f"{k}: {v.text()}" for k, v in self.lines.items())


class QtForgetDialog(QDialog):
    """Forget older than: a date, which kinds, whether pinned items stay."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Forget older memories")
        self.date = QDateEdit(QDate.currentDate().addDays(-30))
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.kinds = {k: QCheckBox(k) for k in KINDS}
        for kind, box in self.kinds.items():
            box.setChecked(kind != "document")
        self.keep_pinned = QCheckBox("keep pinned items")
        self.keep_pinned.setChecked(True)
        kinds_row = QHBoxLayout()
        for box in self.kinds.values():
            kinds_row.addWidget(box)
        form = QFormLayout()
        form.addRow("Created before", self.date)
        form.addRow("Kinds", kinds_row)
        form.addRow("", self.keep_pinned)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Delete the memories created before a day (cannot be undone)."))
        layout.addLayout(form)
        layout.addWidget(buttons)

    def cutoff(self) -> float:
        """Unix time of the chosen day's local midnight."""
        return float(QDateTime(self.date.date(), QTime(0, 0)).toSecsSinceEpoch())

    def seconds(self) -> float:
        return max(0.0, time.time() - self.cutoff())

    def chosen_kinds(self) -> list[str]:
        return [k for k, box in self.kinds.items() if box.isChecked()]
