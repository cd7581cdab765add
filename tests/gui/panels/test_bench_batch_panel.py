"""Benchmark matrix panel, Run batch: a real `bench batch` on the tiny model (worker
processes), its table and chart, Cancel, and a bad concurrency."""

from __future__ import annotations

from pathlib import Path

from gui.panels.bench_matrix import QtBenchMatrix
from tests.helpers.pixels import count_color


def _panel(ctx, qtbot) -> QtBenchMatrix:
    panel = QtBenchMatrix(ctx)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    return panel


def test_run_batch_shows_levels_and_chart(ctx, qtbot, tiny_models: Path) -> None:
    panel = _panel(ctx, qtbot)
    panel.models.setText("tiny-int4")
    panel.concurrency.setText("1 2 4")
    panel.runs.setValue(2)
    panel.warmup.setValue(0)
    panel.new_tokens.setValue(8)
    panel.prompts.setText("16")
    panel.vs_llamacpp.setChecked(True)
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        assert panel.run_batch() is not None
        assert not panel.batch_button.isEnabled() and not panel.run_button.isEnabled()
    name, result = blocker.args
    assert name == "batch" and isinstance(result, dict), result
    assert [lv["concurrency"] for lv in result["levels"]] == [1, 2, 4]
    assert panel.batch_table.rowCount() == 3
    assert [panel.batch_table.item(i, 1).text() for i in range(3)] == ["1", "2", "4"]
    aggregate = result["levels"][2]["aggregate_decode_tok_s"]
    assert panel.batch_table.item(2, 2).text().startswith(f"{aggregate['median']:,.1f} (")
    assert "aggregate decode tok/s" in panel.batch_chart.title
    assert count_color(panel.batch_chart, ctx.theme.chart("tok_s"), tolerance=20) > 200
    status = panel.status.text()
    assert "CPU " in status and "c4/c1" in status
    assert "llamacpp unavailable" in status and "GGUF" in status  # the tiny model is not one
    assert panel.batch_button.isEnabled() and panel.worker is None


def test_cancel_batch_keeps_what_finished(ctx, qtbot, tiny_models: Path) -> None:
    panel = _panel(ctx, qtbot)
    panel.models.setText("tiny-int4")
    panel.concurrency.setText("1 2")
    panel.runs.setValue(100)
    panel.warmup.setValue(0)
    panel.new_tokens.setValue(200)
    panel.prompts.setText("16")
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        panel.run_batch()
        qtbot.waitUntil(lambda: panel.progress.bar.value() > 0, timeout=60000)
        panel.progress.cancel.click()
    result = blocker.args[1]
    assert result["cancelled"] and "cancelled" in panel.status.text()
    assert result["levels"][0]["concurrency"] == 1 and result["levels"][0]["runs"] < 100


def test_bad_concurrency_is_a_readable_error(ctx, qtbot) -> None:
    panel = _panel(ctx, qtbot)
    panel.concurrency.setText("four")
    assert panel.run_batch() is None
    assert "Concurrency: whole numbers" in panel.status.text()
    panel.concurrency.setText("0 2")
    assert panel.run_batch() is None and "levels >= 1" in panel.status.text()
