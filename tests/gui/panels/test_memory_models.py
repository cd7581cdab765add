"""The memory browser's paged listing on a big real store: pages fetched as the view scrolls,
the time filter, and the hits model's score columns."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt

from engine.memory.items import MemoryItem
from gui.memory_tasks import Page, ScoredRow
from gui.panels.memory_models import PAGE_SIZE, MemoryHitsModel, MemoryPageModel

N = 2 * PAGE_SIZE + 50


def test_big_store_is_listed_page_by_page(qtbot, make_panel, open_store, shared_embedder) -> None:
    base = shared_embedder.embed(["printer toner", "harbour tides", "oven timer"])
    old = time.time() - 40 * 86400
    with open_store("big") as store:
        texts = [f"note {i}: {('printer', 'harbour', 'oven')[i % 3]}" for i in range(N)]
        vectors = np.asarray([base[i % 3] for i in range(N)], np.float32)
        created = [old if i < 100 else time.time() for i in range(N)]
        ids = store.add(texts, vectors=vectors, created=created)
    panel = make_panel()
    panel.resize(900, 500)
    panel.show()
    qtbot.waitUntil(lambda: panel.pages.total == N and not panel.pages.pending, timeout=60_000)
    assert len(panel.pages.rows) == PAGE_SIZE and panel.pages.canFetchMore()
    assert panel.status.text() == f"{PAGE_SIZE} of {N:,} items (newest first)"
    assert panel.pages.ids() == sorted(ids, reverse=True)[:PAGE_SIZE]
    for expected in (2 * PAGE_SIZE, N):  # scrolling to the end fetches the next page
        panel.table.scrollToBottom()
        qtbot.waitUntil(lambda e=expected: len(panel.pages.rows) == e, timeout=30_000)
    assert panel.pages.ids() == sorted(ids, reverse=True) and not panel.pages.canFetchMore()
    panel.period.setCurrentText("last 7 days")
    qtbot.waitUntil(lambda: panel.pages.total == N - 100 and not panel.pages.pending)
    panel.table.scrollToBottom()
    qtbot.waitUntil(lambda: len(panel.pages.rows) == N - 100, timeout=30_000)
    assert min(panel.pages.ids()) == ids[100]


def _item(i: int, pinned: bool = False) -> MemoryItem:
    return MemoryItem(i, "long", f"text {i}\nsecond line", {}, 1.0e9, 1.0e9, pinned)


def test_stale_pages_are_dropped(qtbot) -> None:
    model = MemoryPageModel()
    first = model.reset()
    second = model.reset()
    model.add_page(Page(first, 0, [_item(1)], 1))  # asked before the filter changed
    assert model.rowCount() == 0 and model.pending
    model.add_page(Page(second, 0, [_item(2), _item(3)], 5))
    assert model.ids() == [2, 3] and model.canFetchMore()
    model.add_page(Page(second, 0, [_item(9)], 5))  # a duplicate answer for offset 0
    assert model.ids() == [2, 3]
    assert model.remove_ids({3}) == 1 and model.total == 4
    model.replace_item(_item(2, pinned=True))
    assert model.data(model.index(0, 3)) == "★"
    assert model.data(model.index(0, 5)) == "text 2 second line"


def test_hits_model_columns(qtbot) -> None:
    model = MemoryHitsModel()
    model.set_hits([ScoredRow(_item(4), 0.912, 0.8, 0.9, 0.15, 7), ScoredRow(_item(5), 0.5, 0.5)])
    header = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert header[:6] == ["#", "score", "relevance", "recency", "pin bonus", "tokens"]
    first = [model.data(model.index(0, c)) for c in range(model.columnCount())]
    assert first[:7] == ["1", "0.912", "0.800", "0.900", "0.15", "7", "long"]
    second = [model.data(model.index(1, c)) for c in range(6)]
    assert second == ["2", "0.500", "0.500", "", "", ""]
