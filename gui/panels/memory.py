"""`QtMemoryBrowser`: one agent's memory store: search with scores, list by kind and time,
view / edit / pin / delete, forget older than, ingest with progress, index stats, rebuild.

Every store operation runs in a worker (`gui.memory_tasks`) holding the store's lock;
slots here only change widgets. Runs add memories, so a finished run refreshes the view.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.agent.events import RunFinished
from engine.memory.filters import Filter
from gui import memory_tasks as tasks
from gui.bridge import Worker, report
from gui.context import AppContext
from gui.memory_store import KINDS, StoreHandle, existing_stores, store_name
from gui.panels.memory_embedder import QtEmbedderBanner
from gui.panels.memory_items import ItemActions
from gui.panels.memory_models import PAGE_SIZE, ItemsModel, MemoryHitsModel, MemoryPageModel
from gui.panels.memory_side import QtMemoryItemView, QtMemoryStats
from gui.panels.memory_work import LongWork
from gui.panels.registry import register_panel
from gui.widgets.progress import QtProgress

PERIODS = {"any time": None, "last day": 1, "last 7 days": 7, "last 30 days": 30}
RANKINGS = {"agent's ranking (relevance + recency + pin)": "agent", "similarity only": "similarity"}


def _agent_name(state: Any, path: Path) -> str:
    from engine.agent.agentfile import load

    return load(path).spec.name


@register_panel(
    "memory", "Memory browser", area="left", order=40, shortcut="Ctrl+7", tab_with="designer"
)
class QtMemoryBrowser(ItemActions, LongWork, QWidget):
    finished = Signal(str)  # the operation that completed (tests and listeners)
    failed = Signal(str)  # the operation that failed (its error went to the message path)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.handle: StoreHandle | None = None
        self.ingest_worker: Worker | None = None
        self.agent = QComboBox()
        self.agent.setMinimumContentsLength(16)
        self.agent.activated.connect(lambda: self.choose(self.agent.currentText()))
        rescan = QPushButton("Refresh")
        rescan.clicked.connect(self.refresh)
        self.banner = QtEmbedderBanner(ctx)
        self.banner.prepared.connect(self.refresh)
        self.query = QLineEdit(placeholderText="search this agent's memory (Enter)")
        self.query.returnPressed.connect(self.run_search)
        self.kind = QComboBox()
        self.kind.addItems(["all kinds", *KINDS])
        self.kind.currentIndexChanged.connect(self._filter_changed)
        self.period = QComboBox()
        self.period.addItems(list(PERIODS))
        self.period.currentIndexChanged.connect(self._filter_changed)
        self.ranking = QComboBox()
        self.ranking.addItems(list(RANKINGS))
        self.k = QSpinBox(minimum=1, maximum=200, value=20, prefix="top ")
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear_search)
        self.pages = MemoryPageModel()
        self.pages.fetch_requested.connect(self._fetch)
        self.hits = MemoryHitsModel()
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.view = QtMemoryItemView()
        self.view.save_requested.connect(self.save_text)
        self.view.pin_requested.connect(self.set_pinned)
        self.view.delete_requested.connect(self.delete_selected)
        self.status = QLabel("")
        self.status.setObjectName("caption")
        self.stats = QtMemoryStats()
        self.stats.rebuild_requested.connect(self.rebuild)
        self.progress = QtProgress()
        self.progress.cancel_requested.connect(self.cancel_ingest)
        self.buttons = self._action_buttons()
        delete_key = QShortcut(QKeySequence.StandardKey.Delete, self.table, self.delete_selected)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)  # only while the list has focus
        self._layout(rescan, clear)
        self._set_model(self.pages)
        ctx.agents.opened.connect(self._agent_opened)
        ctx.agents.run_events.connect(self._run_events)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._quit)
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _action_buttons(self) -> dict[str, QPushButton]:
        actions = {
            "delete": ("Delete selected…", self.delete_selected),
            "forget": ("Forget older than…", self.forget_dialog),
            "files": ("Ingest files…", self.ingest_files_dialog),
            "folder": ("Ingest folder…", self.ingest_folder_dialog),
        }
        buttons = {}
        for key, (text, slot) in actions.items():
            buttons[key] = QPushButton(text)
            buttons[key].clicked.connect(slot)
        return buttons

    def _layout(self, rescan: QPushButton, clear: QPushButton) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Agent"))
        top.addWidget(self.agent, 1)
        top.addWidget(rescan)
        search = QHBoxLayout()
        search.addWidget(self.query, 3)
        search.addWidget(self.k)
        search.addWidget(self.ranking, 1)
        search.addWidget(clear)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("List"))
        filters.addWidget(self.kind)
        filters.addWidget(self.period)
        filters.addWidget(self.status, 1)
        actions = QHBoxLayout()
        for button in self.buttons.values():
            actions.addWidget(button)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.view)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 2)
        split.setSizes([650, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for row in (top, search, filters):
            layout.addLayout(row)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addWidget(self.stats)

    def _set_model(self, model: ItemsModel) -> None:
        self.table.setModel(model)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.view.show_item(None)

    # ------------------------------------------------------------------ workers
    def _start(
        self, name: str, fn: Any, *args: Any, on_result: Any = None, start: bool = True
    ) -> Worker:
        """A worker for `fn`, started unless asked not to (connect more signals first)."""
        worker = Worker(fn, *args, name=f"memory {name}", report_errors=False)
        handle = self.handle

        def returned(result: object) -> None:
            if handle is self.handle:  # not an answer about a store we have left
                if on_result is not None:
                    on_result(result)
                self.finished.emit(name)

        def errored(exc: BaseException) -> None:
            if handle is self.handle:
                detail = "".join(traceback.format_exception(exc))
                report("error", f"memory {name} ({handle.name if handle else '-'}): {exc}", detail)
                self.failed.emit(name)

        worker.signals.returned.connect(returned)
        worker.signals.errored.connect(errored)
        if start:
            self.ctx.pool.start(worker)
        return worker

    # ------------------------------------------------------------------ stores
    def refresh(self) -> None:
        """Rescan the stores, re-check the embedder, reload the list and the stats."""
        settings = self.banner.check()
        current = self.handle.name if self.handle else self.agent.currentText()
        names = sorted(set(existing_stores()) | ({current} if current else set()))
        self.agent.blockSignals(True)
        self.agent.clear()
        self.agent.addItems(names)
        self.agent.setCurrentText(current)
        self.agent.blockSignals(False)
        if self.handle is not None and self.handle.settings != settings:
            self.close_store()  # the store reads its settings when it opens: reopen it
        if self.handle is not None and self.handle.name == current:
            self.reload()
        elif names:
            self.choose(current or names[0])
        else:
            self.status.setText("No memory stores yet: run an agent with memory, or open one.")

    def choose(self, name: str) -> None:
        """Open the store `name` (closing the one open before)."""
        if not name or (self.handle is not None and self.handle.name == name):
            return
        self.close_store()
        if self.agent.findText(name) < 0:
            self.agent.addItem(name)
        self.agent.setCurrentText(name)
        self.handle = StoreHandle(name, self.banner.settings)
        self.clear_search()
        self.pages.reset()
        self.status.setText(f"opening {name}…")
        self._start("open", tasks.open_store, self.handle, on_result=self._opened)

    def _opened(self, stats: dict[str, Any]) -> None:
        self.stats.show_stats(stats)
        self._load_first_page()

    def close_store(self) -> None:
        if self.ingest_worker is not None:
            self.ingest_worker.abort()  # the files finished so far stay in the store we leave
        if self.handle is not None:
            old, self.handle = self.handle, None
            self.stats.show_stats(None)
            self.ctx.pool.start(Worker(tasks.close, old, name=f"memory: close {old.name}"))

    def _quit(self) -> None:
        """At exit (after the window aborted the workers): save and close the store."""
        if self.handle is not None:
            self.handle.close(wait_s=10.0)

    def _agent_opened(self, path: object) -> None:
        worker = Worker(_agent_name, Path(str(path)), name="memory: read agent file")
        worker.signals.returned.connect(lambda name: self.choose(store_name(str(name))))
        self.ctx.pool.start(worker)

    def _run_events(self, events: list[object]) -> None:
        if any(isinstance(event, RunFinished) for event in events):
            self.refresh()

    # ------------------------------------------------------------------ listing
    def where(self) -> Filter:
        kind = self.kind.currentText()
        days = PERIODS[self.period.currentText()]
        return Filter(
            kinds=None if kind == "all kinds" else (kind,),
            since=None if days is None else time.time() - days * 86400,
        )

    def _filter_changed(self) -> None:
        if self.model is self.hits and self.query.text().strip():
            self.run_search()
        else:
            self.reload()

    def reload(self) -> None:
        """The listing from its first page, and the stats."""
        if self.handle is None:
            return
        if self.model is self.pages:
            self._load_first_page()
        self._start("stats", tasks.stats, self.handle, on_result=self.stats.show_stats)

    def _load_first_page(self) -> None:
        self._set_model(self.pages)
        self._fetch(self.pages.reset(), 0)

    def _fetch(self, generation: int, offset: int) -> None:
        if self.handle is not None:
            args = (self.handle, self.where(), offset, PAGE_SIZE, generation)
            self._start("page", tasks.load_page, *args, on_result=self._page)

    def _page(self, page: tasks.Page) -> None:
        self.pages.add_page(page)
        if page.offset == 0:
            self._fit_columns()
        self._show_count()

    def _fit_columns(self) -> None:
        """Every column but the text as wide as its contents; the text takes the rest."""
        for column in range(self.model.columnCount() - 1):
            self.table.resizeColumnToContents(column)

    def _show_count(self) -> None:
        shown, total = len(self.pages.rows), self.pages.total
        self.status.setText(f"{shown:,} of {total:,} items (newest first)")

    # ------------------------------------------------------------------ search
    def run_search(self) -> None:
        query = self.query.text().strip()
        if self.handle is None or not query:
            return
        kind = self.kind.currentText()
        kinds = None if kind == "all kinds" else [kind]
        ranking = RANKINGS[self.ranking.currentText()]
        self.status.setText(f"searching for {query!r}…")
        args = (self.handle, query, self.k.value(), kinds, ranking)
        self._start("search", tasks.search, *args, on_result=self._hits)

    def _hits(self, hits: list[tasks.ScoredRow]) -> None:
        self.hits.set_hits(hits)
        self._set_model(self.hits)
        self._fit_columns()
        self.status.setText(f"{len(hits)} hits, best first (Clear to list again)")

    def clear_search(self) -> None:
        self.query.clear()
        if self.model is self.hits:
            self.hits.set_hits([])
            self._load_first_page()
