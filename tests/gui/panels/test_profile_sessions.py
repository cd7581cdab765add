"""Profiling sessions panel: list (with unreadable files), open, compare, export, delete."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from engine.paths import sessions_dir
from engine.telemetry import session_file
from engine.telemetry.trace_check import check
from gui.panels.profile_sessions import QtProfileSessions
from tests.helpers.file_dialogs import answer, cancel
from tests.helpers.profile_sessions import saved_session


def _wait(qtbot, panel, action, name: str) -> object:
    """Run `action()` and return what its worker (`name`) returned or raised."""
    with qtbot.waitSignal(
        panel.finished, timeout=30000, check_params_cb=lambda n, _: n == name
    ) as blocker:
        assert action() is not None
    return blocker.args[1]


def _panel(ctx, qtbot) -> QtProfileSessions:
    panel = QtProfileSessions(ctx, ask=False)
    qtbot.addWidget(panel)
    return panel


def test_list_open_compare_export_delete(ctx, qtbot, tmp_path: Path) -> None:
    fast, slow = saved_session("fast", 0.001), saved_session("slow", 0.002)
    (sessions_dir() / "broken.awprof.json").write_text("{nope")
    panel = _panel(ctx, qtbot)
    _wait(qtbot, panel, lambda: panel.show() or True, "list")  # lists when first shown
    assert panel.table.rowCount() == 3
    texts = [panel.table.item(i, 1).text() for i in range(3)]
    assert any(t.startswith("unreadable:") and "not readable JSON" in t for t in texts)

    panel.select(str(fast))
    shown: list[object] = []
    ctx.profiles.show.connect(shown.append)
    _wait(qtbot, panel, panel.open_selected, "open")
    assert shown and shown[0].name == "fast"

    assert panel.compare_selected() is None and "Select two" in panel.status.text()
    panel.select(str(fast), str(slow))
    result = _wait(qtbot, panel, panel.compare_selected, "compare")
    assert isinstance(result, dict) and panel.dialog is not None
    table = panel.dialog.view.table
    labels = [table.item(i, 0).text() for i in range(table.rowCount())]
    assert "decode tok/s" in labels
    row = labels.index("decode tok/s")
    # the list is newest first: A is the slow session, B (tokens half as far apart) the fast
    assert panel.dialog.view.heading.text().startswith("A: slow")
    assert table.item(row, 3).text() == "x2.00" and table.item(row, 4).text() == "B"

    panel.select(str(slow))
    trace = tmp_path / "slow.json"
    _wait(qtbot, panel, lambda: panel.export_selected("chrome", trace), "export chrome")
    check(json.loads(trace.read_text()))

    _wait(qtbot, panel, panel.delete_selected, "delete")
    assert not slow.exists() and fast.exists()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2)


def test_open_a_broken_file_is_a_readable_message(ctx, qtbot) -> None:
    sessions_dir().mkdir(parents=True, exist_ok=True)
    (sessions_dir() / "broken.awprof.json").write_text('{"format": "agent-workbench-profile"}')
    panel = _panel(ctx, qtbot)
    _wait(qtbot, panel, lambda: panel.show() or True, "list")  # lists when first shown
    panel.select(panel.rows[0]["path"])
    error = _wait(qtbot, panel, panel.open_selected, "open")
    assert isinstance(error, session_file.SessionFileError)
    assert "no valid format version" in panel.status.text()


def test_export_dialog_writes_the_chosen_file_and_cancel_writes_nothing(
    ctx, qtbot, tmp_path: Path, monkeypatch
) -> None:
    saved = saved_session("one", 0.001)
    panel = _panel(ctx, qtbot)
    _wait(qtbot, panel, lambda: panel.show() or True, "list")
    panel.select(str(saved))
    calls = cancel(monkeypatch, "getSaveFileName")
    assert panel.export_selected("csv") is None and calls[0][3] == "CSV (*.csv)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    out = tmp_path / "one.csv"
    answer(monkeypatch, "getSaveFileName", (str(out), "CSV (*.csv)"))
    result = _wait(qtbot, panel, lambda: panel.export_selected("csv"), "export csv")
    assert result["path"] == str(out) and f"Exported {out}" in panel.status.text()
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 1 and rows[0]["new_tokens"] == "20"  # the chosen session's one run
