"""Table models of the memory browser: the paged listing and the ranked search hits.

`MemoryPageModel` holds only the pages fetched so far: when the view scrolls to the end,
`fetchMore` asks (through `fetch_requested`) for the next page, which a worker loads and
`add_page` appends; a big store is never read whole, and no widget exists per row.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from engine.memory.items import MemoryItem
from gui.memory_tasks import Page, ScoredRow
from gui.plain import plain_tooltip, printable

PAGE_SIZE = 200
PREVIEW_CHARS = 160
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


def when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def preview(text: str) -> str:
    line = " ".join(printable(text).split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def source_label(item: MemoryItem) -> str:
    if not item.source:
        return ""
    name = item.source.rsplit("/", 1)[-1]
    return f"{name} #{item.position}" if item.position is not None else name


class ItemsModel(QAbstractTableModel):
    COLUMNS: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Any] = []

    def item(self, row: int) -> MemoryItem:
        raise NotImplementedError

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.item(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(index.row(), self.COLUMNS[index.column()])
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(item.text[:2000])
        if role == Qt.ItemDataRole.UserRole:
            return item.id
        return None

    def cell(self, row: int, column: str) -> str:
        item = self.item(row)
        values = {
            "id": str(item.id),
            "kind": item.kind,
            "created": when(item.created),
            "pin": "★" if item.pinned else "",
            "source": source_label(item),
            "text": preview(item.text),
        }
        return values.get(column, "")

    def ids(self) -> list[int]:
        return [self.item(r).id for r in range(len(self.rows))]

    def row_of(self, item_id: int) -> int:
        for r in range(len(self.rows)):
            if self.item(r).id == item_id:
                return r
        return -1

    def remove_ids(self, ids: set[int]) -> int:
        removed = 0
        for r in reversed(range(len(self.rows))):
            if self.item(r).id in ids:
                self.beginRemoveRows(_ROOT, r, r)
                del self.rows[r]
                self.endRemoveRows()
                removed += 1
        return removed

    def replace_item(self, new: MemoryItem) -> None:
        r = self.row_of(new.id)
        if r >= 0:
            self.rows[r] = self.with_item(self.rows[r], new)
            self.dataChanged.emit(self.index(r, 0), self.index(r, len(self.COLUMNS) - 1))

    def with_item(self, row: Any, new: MemoryItem) -> Any:
        return new


class MemoryPageModel(ItemsModel):
    """The store's items (newest first) under the current filter, one page at a time."""

    COLUMNS = ("id", "kind", "created", "pin", "source", "text")
    fetch_requested = Signal(int, int)  # generation, offset

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.generation = 0
        self.pending = False

    def item(self, row: int) -> MemoryItem:
        return self.rows[row]

    def reset(self) -> int:
        """Forget every row (a new store or filter); returns the generation to load."""
        self.beginResetModel()
        self.rows = []
        self.total = 0
        self.generation += 1
        self.pending = True
        self.endResetModel()
        return self.generation

    def add_page(self, page: Page) -> None:
        if page.generation != self.generation or page.offset != len(self.rows):
            return  # an answer to an older question
        self.pending = False
        self.total = page.total
        if page.items:
            first = len(self.rows)
            self.beginInsertRows(_ROOT, first, first + len(page.items) - 1)
            self.rows.extend(page.items)
            self.endInsertRows()

    def canFetchMore(self, parent: Index = _ROOT) -> bool:
        return not parent.isValid() and not self.pending and len(self.rows) < self.total

    def fetchMore(self, parent: Index = _ROOT) -> None:
        if self.canFetchMore(parent):
            self.pending = True
            self.fetch_requested.emit(self.generation, len(self.rows))

    def remove_ids(self, ids: set[int]) -> int:
        removed = super().remove_ids(ids)
        self.total = max(len(self.rows), self.total - removed)
        return removed


class MemoryHitsModel(ItemsModel):
    """Ranked search hits with the parts of their score."""

    COLUMNS = (
        "#", "score", "relevance", "recency", "pin bonus", "tokens", "kind", "created", "text",
    )  # fmt: skip

    def item(self, row: int) -> MemoryItem:
        return self.rows[row].item

    def set_hits(self, hits: list[ScoredRow]) -> None:
        self.beginResetModel()
        self.rows = list(hits)
        self.endResetModel()

    def cell(self, row: int, column: str) -> str:
        hit: ScoredRow = self.rows[row]
        numbers = {
            "#": str(row + 1),
            "score": f"{hit.score:.3f}",
            "relevance": f"{hit.relevance:.3f}",
            "recency": "" if hit.recency is None else f"{hit.recency:.3f}",
            "pin bonus": "" if hit.pinned_bonus is None else f"{hit.pinned_bonus:.2f}",
            "tokens": "" if hit.tokens is None else str(hit.tokens),
        }
        return numbers[column] if column in numbers else super().cell(row, column)

    def with_item(self, row: Any, new: MemoryItem) -> Any:
        old: ScoredRow = row
        return ScoredRow(new, old.score, old.relevance, old.recency, old.pinned_bonus, old.tokens)
