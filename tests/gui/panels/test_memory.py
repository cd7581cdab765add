"""Memory browser on a real store: search with scores, delete, pin, edit, forget, refresh."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QItemSelectionModel, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.agent.events import RunFinished, RunMetrics
from tests.helpers.memory_browser import FACTS, LESSON, listed_panel, wait_op


def answer(monkeypatch: pytest.MonkeyPatch, yes: bool) -> list[str]:
    asked: list[str] = []

    def question(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def select_rows(panel, rows: list[int]) -> None:
    model = panel.table.selectionModel()
    model.clearSelection()
    for r in rows:
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        model.select(panel.model.index(r, 0), flags)
    model.setCurrentIndex(
        panel.model.index(rows[-1], 0), QItemSelectionModel.SelectionFlag.NoUpdate
    )


def test_lists_the_store_newest_first_and_filters_by_kind(qtbot, make_panel, notes) -> None:
    panel = listed_panel(qtbot, make_panel)
    assert panel.agent.currentText() == "notes"
    assert panel.pages.ids() == sorted(notes, reverse=True)
    assert panel.status.text() == "6 of 6 items (newest first)"
    assert panel.model.data(panel.model.index(0, 1)) == "reflection"
    panel.kind.setCurrentText("long")
    qtbot.waitUntil(lambda: panel.pages.total == 5 and not panel.pages.pending, timeout=30_000)
    assert {panel.pages.item(r).kind for r in range(5)} == {"long"}


def test_search_shows_ranked_hits_with_score_parts(qtbot, make_panel, notes) -> None:
    panel = listed_panel(qtbot, make_panel)
    panel.query.setText("which port does the VPN listen on?")
    with wait_op(qtbot, panel, "search"):
        panel.query.returnPressed.emit()
    assert panel.model is panel.hits and len(panel.hits.rows) == 6
    top = panel.hits.rows[0]
    assert top.item.text == FACTS[4]
    scores = [h.score for h in panel.hits.rows]
    assert scores == sorted(scores, reverse=True)
    for hit in panel.hits.rows:  # the agent's ranking: relevance + recency weight + pin bonus
        assert hit.score == pytest.approx(hit.relevance + 0.1 * hit.recency + hit.pinned_bonus)
        assert hit.tokens > 0
    row = [panel.model.data(panel.model.index(0, c)) for c in range(len(panel.hits.COLUMNS))]
    assert row[0] == "1" and float(row[1]) == pytest.approx(top.score, abs=1e-3)
    assert row[6] == "long" and "WireGuard" in row[8]
    # similarity only: the cosine of store.search, no recency/pin parts
    panel.ranking.setCurrentIndex(1)
    panel.k.setValue(2)
    with wait_op(qtbot, panel, "search"):
        panel.run_search()
    assert panel.hits.rows[0].item.text == FACTS[4] and len(panel.hits.rows) == 2
    assert panel.hits.rows[0].recency is None and panel.model.data(panel.model.index(0, 3)) == ""
    with wait_op(qtbot, panel, "search"):  # the kind chooser narrows the search too
        panel.kind.setCurrentText("reflection")
    assert [h.item.text for h in panel.hits.rows] == [LESSON]
    panel.clear_search()
    qtbot.waitUntil(lambda: panel.model is panel.pages and len(panel.pages.rows) == 1)


def test_delete_asks_and_removes_from_store_and_view(
    qtbot, make_panel, notes, monkeypatch, open_store
) -> None:
    panel = listed_panel(qtbot, make_panel)
    select_rows(panel, [0, 2])  # multi-select: the reflection and the 4th fact
    doomed = panel.selected_ids()
    assert doomed == [notes[5], notes[3]]
    asked = answer(monkeypatch, yes=False)
    panel.delete_selected()
    assert "Delete 2 memory items from notes?" in asked[0]
    assert panel.pages.ids() == sorted(notes, reverse=True)  # refused: nothing happened
    answer(monkeypatch, yes=True)
    with wait_op(qtbot, panel, "delete"):
        panel.buttons["delete"].click()
    assert set(panel.pages.ids()) == set(notes) - set(doomed)
    assert panel.status.text() == "4 of 4 items (newest first)"
    assert panel.handle.store.get(doomed[0]) is None and panel.handle.store.get(notes[0])
    qtbot.waitUntil(lambda: "<b>4</b>" in panel.stats.lines["items"].text())
    # also gone from search results
    panel.query.setText("peanut allergy")
    with wait_op(qtbot, panel, "search"):
        panel.run_search()
    assert not set(doomed) & {h.item.id for h in panel.hits.rows}


def test_pin_and_edit_reembeds(qtbot, make_panel, notes) -> None:
    panel = listed_panel(qtbot, make_panel)
    row = panel.pages.row_of(notes[1])
    select_rows(panel, [row])
    assert panel.view.item.id == notes[1] and panel.view.text.toPlainText() == FACTS[1]
    with wait_op(qtbot, panel, "pin"):
        panel.view.pin.click()
    assert panel.handle.store.get(notes[1]).pinned
    assert panel.model.data(panel.model.index(row, 3)) == "★" and panel.view.pin.text() == "Unpin"
    new = "The production database is backed up every hour to the Frankfurt bucket."
    assert not panel.view.save.isEnabled()
    panel.view.text.setPlainText(new)
    assert panel.view.save.isEnabled()
    with wait_op(qtbot, panel, "edit"):
        panel.view.save.click()
    assert panel.handle.store.get(notes[1]).text == new
    assert "backed up every hour" in panel.model.data(panel.model.index(row, 5))
    panel.query.setText("how often are database backups taken?")
    with wait_op(qtbot, panel, "search"):
        panel.run_search()
    assert panel.hits.rows[0].item.id == notes[1]  # found by its new text: re-embedded
    assert panel.hits.rows[0].pinned_bonus == pytest.approx(0.15)
    with wait_op(qtbot, panel, "pin"):
        panel.set_pinned(notes[1], False)
    assert not panel.handle.store.get(notes[1]).pinned


def test_edit_to_empty_text_is_refused(qtbot, make_panel, notes, messages) -> None:
    panel = listed_panel(qtbot, make_panel)
    select_rows(panel, [0])
    panel.view.text.setPlainText("   ")
    assert not panel.view.save.isEnabled()
    panel.save_text(notes[5], "  ")  # even when asked directly: the store refuses
    qtbot.waitUntil(lambda: any("needs some text" in m.text for m in messages), timeout=30_000)
    assert panel.handle.store.get(notes[5]).text == LESSON


def test_forget_older_than(qtbot, make_panel, open_store, monkeypatch) -> None:
    old = time.time() - 40 * 86400
    with open_store("notes") as store:
        stale = store.add(["An old note about the printer."], created=[old])[0]
        kept = store.add(["An old pinned note about the office."], created=[old], pinned=True)[0]
        doc = store.add(["An old document chunk."], kind="document", created=[old])[0]
        fresh = store.add(["A fresh note from today."])[0]
    panel = listed_panel(qtbot, make_panel)
    asked = answer(monkeypatch, yes=True)

    def fill_in_the_dialog() -> None:  # the button opens a modal QtForgetDialog
        dialog = QApplication.activeModalWidget()
        dialog.date.setDate(QDate.currentDate().addDays(-30))
        assert dialog.chosen_kinds() == ["short", "long", "reflection"]
        dialog.accept()

    QTimer.singleShot(200, fill_in_the_dialog)
    with wait_op(qtbot, panel, "forget"):
        panel.buttons["forget"].click()
    assert "created before" in asked[0] and "pinned ones stay" in asked[0]
    store = panel.handle.store
    assert store.get(stale) is None
    assert store.get(kept) and store.get(doc) and store.get(fresh)
    qtbot.waitUntil(lambda: set(panel.pages.ids()) == {kept, doc, fresh}, timeout=30_000)


def test_forget_dialog_gives_the_chosen_day(qtbot) -> None:
    from gui.panels.memory_side import QtForgetDialog

    dialog = QtForgetDialog()
    qtbot.addWidget(dialog)
    dialog.date.setDate(QDate(2026, 1, 15))
    dialog.kinds["document"].setChecked(True)
    dialog.kinds["short"].setChecked(False)
    assert time.strftime("%Y-%m-%d %H:%M", time.localtime(dialog.cutoff())) == "2026-01-15 00:00"
    assert dialog.chosen_kinds() == ["long", "reflection", "document"]
    assert dialog.seconds() > 300 * 86400


def test_a_finished_run_refreshes_the_list(qtbot, ctx, make_panel, notes, open_store) -> None:
    panel = listed_panel(qtbot, make_panel)
    with open_store("notes") as store:  # what a run does: adds memories from another object
        added = store.add(["Task: find the VPN port\nAnswer: 51820"], kind="long")[0]
    assert added not in panel.pages.ids()
    ctx.agents.run_events.emit([RunFinished(0.0, 1, "final_answer", "51820", RunMetrics())])
    qtbot.waitUntil(lambda: added in panel.pages.ids(), timeout=30_000)
    assert panel.pages.ids()[0] == added


def test_the_designer_s_agent_joins_the_chooser(
    qtbot, ctx, make_panel, notes, tmp_path: Path, messages
) -> None:
    from engine.agent.agentfile import save
    from engine.agent.spec import AgentSpec

    panel = listed_panel(qtbot, make_panel)
    path = tmp_path / "keeper.agent.yaml"
    save(AgentSpec(name="Notes keeper", goals=("keep notes",)), path)
    ctx.agents.opened.emit(path)
    qtbot.waitUntil(lambda: panel.handle is not None and panel.handle.name == "notes-keeper")
    assert [panel.agent.itemText(i) for i in range(panel.agent.count())] == [
        "notes",
        "notes-keeper",
    ]
    qtbot.waitUntil(lambda: panel.status.text() == "0 of 0 items (newest first)", timeout=30_000)
    assert panel.pages.total == 0 and panel.stats.rebuild.isEnabled()
    bad = tmp_path / "broken.agent.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    ctx.agents.opened.emit(bad)
    qtbot.waitUntil(lambda: any(m.level == "error" for m in messages), timeout=10_000)
    assert panel.handle.name == "notes-keeper"


def test_opening_a_store_with_a_corrupt_index_shows_the_notice(
    qtbot, make_panel, notes, messages, _data_home: Path
) -> None:
    index = _data_home / "memory" / "notes" / "index.bin"
    assert index.is_file()
    index.write_bytes(b"garbage, not an index")
    panel = listed_panel(qtbot, make_panel)
    notices = [m for m in messages if m.text.startswith("[memory] notes: index file is corrupt")]
    assert notices and notices[0].level == "warning"
    assert len(panel.pages.rows) == 6  # rebuilt from SQLite: nothing lost


def test_quitting_closes_the_store(qtbot, make_panel, notes) -> None:
    panel = listed_panel(qtbot, make_panel)
    handle = panel.handle
    store = handle.store
    store.update_text(notes[0], "Changed just before quitting.")  # a change not yet saved
    assert store.index.seq != store._saved_seq
    panel._quit()  # what QApplication.aboutToQuit calls, after the window aborted the workers
    assert handle.closed and handle.store is None
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        store.conn.execute("SELECT 1")


def test_a_damaged_store_shows_what_to_do_and_is_left_as_it_is(
    qtbot, make_panel, memory_home, messages, _data_home: Path
) -> None:
    """Before, a damaged page met by a query reached the window as "database disk image is
    malformed", with no word of which store or what to do."""
    from tests.helpers.memory_db import damage_page, filled

    db = filled(_data_home / "memory" / "broken")
    damage_page(db, 2)  # the meta table, read as the store opens
    before = db.read_bytes()
    make_panel()
    qtbot.waitUntil(lambda: any("is damaged" in m.text for m in messages), timeout=30_000)
    shown = next(m for m in messages if "is damaged" in m.text)
    assert shown.level == "error" and f"the memory store {db.parent} is damaged" in shown.text
    assert "Move the folder aside" in shown.text and "Traceback" not in shown.text
    assert db.read_bytes() == before


def test_an_item_s_tooltip_and_preview_show_markup_literally(qtbot) -> None:
    from PySide6.QtCore import Qt

    from engine.memory.items import MemoryItem
    from gui.panels.memory_models import MemoryPageModel

    model = MemoryPageModel()
    text = "<img src=x><b>bold</b>\x1b[2J"
    model.rows = [MemoryItem(1, "long", text)]
    index = model.index(0, model.COLUMNS.index("text"))
    assert model.data(index) == "<img src=x><b>bold</b>\\x1b[2J"
    tooltip = model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "&lt;img src=x&gt;&lt;b&gt;bold&lt;/b&gt;\\x1b[2J" in tooltip  # escaped, then drawn
