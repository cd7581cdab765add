"""Evaluation panel: suite runs on a scripted model (progress, Cancel, the results table's
colours, reasons and step cards), trust and approval, saved result sets and compare, the
designer's Run suite, and a task added from the run console."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextDocumentFragment

from engine.eval import results
from engine.eval.runner import TaskStarted
from engine.eval.suitefile import load, shipped
from engine.paths import resource
from gui.panels.evaluation import QtEvaluation
from gui.widgets.eval_results import CELL_ALPHA
from gui.widgets.run_dialogs import TrustDialog
from tests.helpers.eval_model import SUMS_SUITE, by_task, sums_scripts
from tests.helpers.eval_model import suite_file as _suite_file
from tests.helpers.fake_model import ScriptedModel, call, final

CALCULATOR = resource("agents", "calculator.agent.yaml")

SUITE = "# three sums, one of them answered wrong by the script\n" + SUMS_SUITE
scripts = sums_scripts


def panel_for(ctx: Any, qtbot: Any, suite: Path, agent: Path = CALCULATOR) -> QtEvaluation:
    panel = QtEvaluation(ctx)
    qtbot.addWidget(panel)
    panel.show()
    panel.set_suite(suite)
    panel.set_agent(agent, select=True)
    return panel


def use_model(panel: QtEvaluation, model: ScriptedModel) -> None:
    panel.models = lambda variant, spec: model


def run_to_end(panel: QtEvaluation, qtbot: Any, timeout: int = 60000) -> None:
    assert panel.run() is not None
    qtbot.waitUntil(lambda: panel.worker is None, timeout=timeout)


def tip(item: Any) -> str:
    """A cell's tooltip as the person reads it (it is escaped HTML)."""
    return str(QTextDocumentFragment.fromHtml(item.toolTip()).toPlainText())


def click_cell(panel: QtEvaluation, qtbot: Any, task: str) -> None:
    table = panel.results.table
    item = panel.results.item(task)
    assert item is not None
    rect = table.visualItemRect(item)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_a_suite_run_fills_the_table_with_colours_reasons_and_step_cards(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    panel = panel_for(ctx, qtbot, suite_file(tmp_path))
    use_model(panel, by_task(scripts()))
    run_to_end(panel, qtbot)
    assert panel.last_status == "complete", panel.status.text()
    view = panel.results
    assert view.rows == ["power", "seven", "eight"]
    ok, bad = QColor(ctx.theme.color("ok")), QColor(ctx.theme.color("error"))
    for task, color in (("power", ok), ("seven", bad), ("eight", ok)):
        item = view.item(task)
        assert item is not None
        background = item.background().color()
        assert background.rgb() == color.rgb() and background.alpha() == CELL_ALPHA, task
    assert view.item("seven").text().startswith("FAIL")
    assert view.item("power").text().startswith("pass")
    reason = tip(view.item("seven"))
    assert "FAIL  number 7: the answer's final number is 8, not 7" in reason
    assert "task: What is 3 plus 4?" in reason and "answer: It is 8." in reason
    # charts per configuration: 2 of 3 passed
    assert view.pass_chart.bars.values[0][0] == pytest.approx(66.67, abs=0.01)
    assert view.latency_chart.bars.values[0][0] > 0
    # a click opens that run's transcript as step cards
    click_cell(panel, qtbot, "power")
    titles = [card.title for card in view.cards.cards]
    assert any("Tool call: calculator" in t for t in titles), titles
    assert any("Final answer" in t for t in titles)
    assert "power #1 (v0): passed" in view.cards_title.text()
    saved = results.load(panel.status.text().rsplit("saved ", 1)[1])
    assert saved.status == "complete" and len(saved.runs) == 3
    assert saved.options["approve"] == "deny" and saved.options["trust"] is False


def test_cancel_mid_run_keeps_the_finished_task_runs(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    release = threading.Event()

    def slow(prompt: str) -> str:  # the second task waits until the test has cancelled
        release.wait(30)
        return final("It is 7.")

    panel = panel_for(ctx, qtbot, suite_file(tmp_path))
    use_model(panel, by_task({**scripts(), "3 plus 4": [slow]}))
    started: list[str] = []
    worker = panel.run()
    assert worker is not None
    worker.signals.batch.connect(
        lambda items: started.extend(i.task for i in items if isinstance(i, TaskStarted))
    )
    qtbot.waitUntil(lambda: "seven" in started, timeout=30000)
    item = panel.results.item("seven")
    assert item is not None and item.text() == "running…"
    assert panel.progress.cancel.isEnabled()
    qtbot.mouseClick(panel.progress.cancel, Qt.MouseButton.LeftButton)
    release.set()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=30000)
    assert panel.last_status == "cancelled"
    assert panel.results.item("power") is not None  # kept
    assert panel.results.item("seven") is None  # cut: not recorded
    assert panel.results.item("eight") is None  # never started
    assert "cancelled" in panel.progress.message.text()
    saved = results.load(panel.status.text().rsplit("saved ", 1)[1])
    assert saved.status == "cancelled" and [r["task"] for r in saved.runs] == ["power"]


def agent_variant(folder: Path, approval: str = "auto", extra_tool: str = "") -> Path:
    text = CALCULATOR.read_text(encoding="utf-8")
    text = text.replace(
        "  - name: calculator\n    approval: auto\n",
        f"  - name: calculator\n    approval: {approval}\n{extra_tool}",
    )
    assert f"approval: {approval}" in text
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "calc.agent.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_agent_file_with_trust_items_asks_the_trust_question_first(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    agent = agent_variant(
        tmp_path / "agent", extra_tool="  - name: files.write\n    approval: auto\n"
    )
    panel = panel_for(ctx, qtbot, suite_file(tmp_path), agent)
    use_model(panel, by_task(scripts()))
    run_to_end(panel, qtbot)
    dialog = panel.dialog
    assert isinstance(dialog, TrustDialog)  # the run console's per-item question
    assert any("files.write" in item for item in dialog.items)
    assert not list(results.evals_dir().glob("*.aweval.json"))  # nothing ran
    dialog.reject()
    assert "Not run" in panel.status.text() and panel.worker is None
    run_to_end(panel, qtbot)
    dialog = panel.dialog
    assert isinstance(dialog, TrustDialog)
    assert not dialog.trust_button.isEnabled()  # every item must be ticked
    for check in dialog.checks:
        check.setChecked(True)
    dialog.trust_button.click()
    qtbot.waitUntil(lambda: panel.worker is None and panel.last_status != "", timeout=60000)
    assert panel.last_status == "complete"
    saved = results.load(panel.status.text().rsplit("saved ", 1)[1])
    assert saved.options["trust"] is True and len(saved.runs) == 3


def test_tools_that_ask_are_refused_unless_approve_all_is_ticked(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    agent = agent_variant(tmp_path / "agent", approval="ask")
    panel = panel_for(ctx, qtbot, suite_file(tmp_path), agent)
    assert not panel.approve_all.isChecked()  # off by default
    assert "refused" in panel.approve_all.toolTip()
    accepted = {}
    for allow in (False, True):
        panel.approve_all.setChecked(allow)
        use_model(panel, by_task(scripts()))
        run_to_end(panel, qtbot)
        saved = results.load(panel.status.text().rsplit("saved ", 1)[1])
        power = next(r for r in saved.runs if r["task"] == "power")
        accepted[allow] = power["tool_calls"][0]["accepted"]
        assert saved.options["approve"] == ("auto" if allow else "deny")
    assert accepted == {False: False, True: True}


def test_saved_result_sets_open_and_compare_shows_the_flipped_task(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    panel = panel_for(ctx, qtbot, suite_file(tmp_path))
    use_model(panel, by_task(scripts()))  # seven fails
    run_to_end(panel, qtbot)
    first = Path(panel.status.text().rsplit("saved ", 1)[1])
    use_model(panel, by_task(scripts(seven="It is 7.")))  # seven passes
    run_to_end(panel, qtbot)
    second = Path(panel.status.text().rsplit("saved ", 1)[1])
    worker = panel.refresh_saved()
    qtbot.waitUntil(lambda: worker.finished, timeout=10000)
    qtbot.waitUntil(lambda: panel.saved.rowCount() == 2, timeout=10000)
    files = {panel.saved.item(i, 0).text() for i in range(2)}
    assert files == {first.name, second.name}
    found = panel.compare(f"{first}#v0", f"{second}#v0")
    assert found is not None and found["flipped"] == {"fixed": ["seven"], "broken": []}
    view = panel.comparison
    row = view.row_of("seven")
    assert view.table.item(row, 1).text() == "FAIL" and view.table.item(row, 2).text() == "pass"
    assert view.table.item(row, 3).text() == "fixed"
    tint = view.table.item(row, 3).background().color()
    assert tint.rgb() == QColor(ctx.theme.color("ok")).rgb()
    assert view.table.item(view.row_of("power"), 3).text() == ""
    assert "pass rate +33 pts" in view.heading.text()
    # the Compare combos list every result set's variants; the newest is B
    assert panel.side_b.currentData() in (f"{first}#v0", f"{second}#v0")
    assert panel.side_a.currentData() != panel.side_b.currentData()
    # open the first one from the list
    row_of_first = next(i for i in range(2) if panel.saved.item(i, 0).text() == first.name)
    opened = panel.open_saved(row_of_first)
    assert opened is not None and opened.path == first
    assert panel.results.item("seven").text().startswith("FAIL")


def test_the_designers_run_suite_opens_the_panel_on_the_designers_file(
    window: Any, qtbot: Any, tmp_path: Path
) -> None:
    designer, panel = window.panels["designer"], window.panels["evaluation"]
    assert isinstance(panel, QtEvaluation)
    path = tmp_path / "calculator.agent.yaml"
    assert designer.new_from_template("calculator", path)
    window.docks["run"].raise_()  # the Evaluation tab is behind the run console
    release = threading.Event()
    use_model(panel, ScriptedModel([lambda p: (release.wait(30), final("8"))[1]] * 50))
    designer.run_suite_button.click()
    assert panel.worker is not None
    assert panel.request is not None and panel.request.agents == (path.resolve(),)
    assert panel.request.suite == shipped()["calculator"]
    assert panel.agent_path() == path.resolve()
    assert not window.docks["evaluation"].visibleRegion().isEmpty()  # in front
    panel.cancel()
    release.set()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=30000)
    assert panel.last_status == "cancelled"


def test_a_task_from_the_run_console_is_added_with_its_answer_as_expectation(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    from gui.panels.run_console import QtRunConsole

    suite = suite_file(tmp_path)
    panel = panel_for(ctx, qtbot, suite)
    editor = panel.editor
    assert editor.path == suite.resolve() and not editor.add_button.isEnabled()
    console = QtRunConsole(ctx)
    qtbot.addWidget(console)
    console.set_agent(CALCULATOR)
    console.task.setPlainText("What is 6 times 7?")
    model = ScriptedModel([call("calculator", '{"expression": "6*7"}'), final("It is 42.")])
    console.models = lambda spec: model
    assert console.run() is not None
    qtbot.waitUntil(lambda: console.worker is None, timeout=60000)
    assert editor.add_button.isEnabled()
    editor.add_button.click()
    assert editor.dirty and "what-is-6-times-7" in editor.text.toPlainText()
    assert editor.save_button.isEnabled()
    editor.save_button.click()
    assert not editor.dirty, editor.status.text()
    saved = load(suite)
    task = saved.task("what-is-6-times-7")
    assert task.input == "What is 6 times 7?"
    assert [(c.kind, c.options["value"]) for c in task.checks] == [("number", 42)]
    text = suite.read_text(encoding="utf-8")
    assert text.startswith("# three sums")  # the person's comment is kept


def type_over(box: Any, text: str) -> None:
    """Replace the editor's text as typing does (an undoable edit that marks it changed)."""
    cursor = box.textCursor()
    cursor.select(cursor.SelectionType.Document)
    cursor.insertText(text)


def test_an_invalid_edit_is_not_saved_and_says_where(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    suite = suite_file(tmp_path)
    panel = panel_for(ctx, qtbot, suite)
    type_over(panel.editor.text, SUITE.replace("number: 8\n", "numbr: 8\n"))
    assert panel.editor.dirty and not panel.editor.save()
    assert "numbr" in panel.editor.status.text() and str(suite) in panel.editor.status.text()
    assert suite.read_text(encoding="utf-8") == SUITE  # untouched
    assert panel.run() is None  # unsaved, invalid edits: not run
    assert "not valid" in panel.status.text()


def test_saving_a_shipped_suite_writes_the_persons_own_copy(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    original = shipped()["calculator"]
    before = original.read_bytes()
    panel = panel_for(ctx, qtbot, original)
    editor = panel.editor
    type_over(editor.text, editor.text.toPlainText().replace("repeat: 1", "repeat: 2"))
    assert editor.save(), editor.status.text()
    assert original.read_bytes() == before
    copy = results.evals_dir().parent / "suites" / original.name
    assert editor.path == copy and panel.suite_path() == copy
    suite = load(copy)
    assert suite.repeat == 2 and suite.agent is not None
    assert suite.agent.resolve() == CALCULATOR.resolve()  # still found from the copy


def suite_file(folder: Path, text: str = SUITE) -> Path:
    return _suite_file(folder, text)
