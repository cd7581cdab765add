"""The memory browser's actions on items: view, edit, pin, delete, forget older than.

A mixin of `QtMemoryBrowser` (gui/panels/memory.py): it uses the panel's table, models,
item view and `_start` (a worker holding the store's lock).
"""

from __future__ import annotations

import time
from typing import Any, cast

from PySide6.QtWidgets import QMessageBox, QTableView, QWidget

from engine.memory.items import MemoryItem
from gui import memory_tasks as tasks
from gui.bridge import report
from gui.memory_store import StoreHandle
from gui.panels.memory_models import ItemsModel, MemoryHitsModel, MemoryPageModel
from gui.panels.memory_side import QtForgetDialog, QtMemoryItemView, QtMemoryStats


class ItemActions:
    handle: StoreHandle | None
    table: QTableView
    pages: MemoryPageModel
    hits: MemoryHitsModel
    view: QtMemoryItemView
    stats: QtMemoryStats

    @property
    def model(self) -> ItemsModel:
        return self.table.model()  # type: ignore[return-value]

    def _start(self, name: str, fn: Any, *args: Any, on_result: Any = None) -> Any:
        raise NotImplementedError

    def _show_count(self) -> None:
        raise NotImplementedError

    def clear_search(self) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ item actions
    def _current_changed(self) -> None:
        index = self.table.currentIndex()
        self.view.show_item(self.model.item(index.row()) if index.isValid() else None)

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.item(r).id for r in rows]

    def save_text(self, item_id: int, text: str) -> None:
        if self.handle is not None:
            args = (self.handle, item_id, text)
            self._start("edit", tasks.update_text, *args, on_result=self._item_changed)

    def set_pinned(self, item_id: int, pinned: bool) -> None:
        if self.handle is not None:
            args = (self.handle, item_id, pinned)
            self._start("pin", tasks.set_pinned, *args, on_result=self._item_changed)

    def _item_changed(self, item: MemoryItem) -> None:
        for model in (self.pages, self.hits):
            model.replace_item(item)
        if self.view.item is not None and self.view.item.id == item.id:
            self.view.show_item(item)
        self._start("stats", tasks.stats, self.handle, on_result=self.stats.show_stats)

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(cast(QWidget, self), title, text)
        return bool(answer == QMessageBox.StandardButton.Yes)

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if self.handle is None or not ids:
            report("info", "select the memory items to delete first")
            return
        noun = f"{len(ids)} memory items" if len(ids) > 1 else f"memory item #{ids[0]}"
        if self.confirm("Delete memories", f"Delete {noun} from {self.handle.name}? No undo."):
            self._start("delete", tasks.delete, self.handle, ids, on_result=self._deleted)

    def _deleted(self, ids: list[int]) -> None:
        for model in (self.pages, self.hits):
            model.remove_ids(set(ids))
        if self.model is self.pages:
            self._show_count()
        self.view.show_item(None)
        self._start("stats", tasks.stats, self.handle, on_result=self.stats.show_stats)

    def forget_dialog(self) -> None:
        dialog = QtForgetDialog(cast(QWidget, self))
        if dialog.exec():
            self.forget(dialog.cutoff(), dialog.chosen_kinds(), dialog.keep_pinned.isChecked())

    def forget(self, cutoff: float, kinds: list[str], keep_pinned: bool) -> None:
        if self.handle is None or not kinds:
            return
        day = time.strftime("%Y-%m-%d %H:%M", time.localtime(cutoff))
        pinned = " (pinned ones stay)" if keep_pinned else ", pinned ones too"
        text = f"Delete every {', '.join(kinds)} memory created before {day}{pinned}? No undo."
        if self.confirm("Forget older memories", text):
            args = (self.handle, max(0.0, time.time() - cutoff), kinds, keep_pinned)
            self._start("forget", tasks.forget, *args, on_result=self._forgot)

    def _forgot(self, removed: int) -> None:
        report("info", f"forgot {removed} memory items")
        self.clear_search()
        self.reload()
