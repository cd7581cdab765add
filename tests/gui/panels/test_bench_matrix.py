"""Benchmark matrix panel: a real matrix on the tiny model (worker processes), its table
and bar chart, loading the saved matrix session, and the error paths."""

from __future__ import annotations

from pathlib import Path

from gui.panels.bench_matrix import QtBenchMatrix
from tests.helpers.file_dialogs import answer, cancel
from tests.helpers.pixels import count_color
from tests.helpers.profile_sessions import saved_session


def _panel(ctx, qtbot) -> QtBenchMatrix:
    panel = QtBenchMatrix(ctx)
    qtbot.addWidget(panel)
    panel.resize(1200, 500)
    panel.show()
    return panel


def _wait(qtbot, panel, action) -> object:
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        assert action() is not None
    return blocker.args[1]


def test_run_a_matrix_then_load_it_back(ctx, qtbot, tiny_models: Path, tmp_path: Path) -> None:
    panel = _panel(ctx, qtbot)
    panel.models.setText("tiny-int4")
    panel.only_named.setChecked(True)
    panel.threads.setText("1 2")
    panel.runs.setValue(2)
    panel.warmup.setValue(0)
    panel.new_tokens.setValue(8)
    panel.prompts.setText("16")
    out = tmp_path / "matrix.awprof.json"
    result = _wait(qtbot, panel, lambda: panel.run(out))
    assert isinstance(result, dict), result
    assert [r["threads"] for r in result["rows"]] == [1, 2] and not result["cancelled"]
    assert out.is_file() and result["session"] == str(out)
    assert panel.table.rowCount() == 2
    assert panel.table.item(0, 0).text() == "tiny-int4"
    decode = result["rows"][0]["decode_tok_s"]
    assert panel.table.item(0, 8).text().startswith(f"{decode['median']:,.1f} (")
    assert count_color(panel.chart, ctx.theme.chart("tok_s"), tolerance=20) > 200
    assert panel.run_button.isEnabled() and panel.worker is None

    other = _panel(ctx, qtbot)
    loaded = _wait(qtbot, other, lambda: other.load(out))
    assert isinstance(loaded, dict) and loaded["rows"] == result["rows"]
    assert [other.table.item(i, 3).text() for i in range(2)] == ["1", "2"]
    other.metric_box.setCurrentIndex(2)  # TTFT
    assert "TTFT" in other.chart.title


def test_cancel_keeps_what_finished(ctx, qtbot, tiny_models: Path, tmp_path: Path) -> None:
    panel = _panel(ctx, qtbot)
    panel.models.setText("tiny-int4")
    panel.only_named.setChecked(True)
    panel.threads.setText("1 2")
    panel.runs.setValue(50)
    panel.new_tokens.setValue(8)
    panel.prompts.setText("16")
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        panel.run(tmp_path / "cut.awprof.json")
        qtbot.waitUntil(lambda: panel.progress.bar.value() > 0, timeout=60000)
        panel.progress.cancel.click()
    result = blocker.args[1]
    assert result["cancelled"] and "cancelled" in panel.status.text()
    assert len(result["rows"]) <= 1


def test_error_paths_are_readable(ctx, qtbot, tmp_path: Path) -> None:
    panel = _panel(ctx, qtbot)
    panel.threads.setText("two")
    assert panel.run() is None and "Threads: whole numbers" in panel.status.text()
    panel.threads.setText("")
    panel.models.setText("no-such-model")
    error = _wait(qtbot, panel, panel.run)
    assert isinstance(error, Exception) and "no-such-model" in panel.status.text()
    bad = tmp_path / "bad.awprof.json"
    bad.write_text("{broken")
    _wait(qtbot, panel, lambda: panel.load(bad))
    assert "not readable JSON" in panel.status.text()


def test_load_dialog_loads_the_chosen_file_and_cancel_keeps_the_panel(
    ctx, qtbot, tmp_path: Path, monkeypatch
) -> None:
    from engine.paths import sessions_dir

    plain = saved_session("no-matrix", 0.001)  # a real session, but not a matrix
    panel = _panel(ctx, qtbot)
    before = panel.status.text()
    calls = cancel(monkeypatch, "getOpenFileName")
    assert panel.load() is None and panel.status.text() == before
    assert calls[0][2] == str(sessions_dir()) and "*.awprof.json" in calls[0][3]
    answer(monkeypatch, "getOpenFileName", (str(plain), ""))
    error = _wait(qtbot, panel, panel.load)
    assert isinstance(error, Exception)
    assert f"{plain} is a profiling session without a benchmark matrix" in panel.status.text()
