"""Run console: real runs (tiny model), approvals, plan edits, Stop, history, trust, errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QPushButton

from engine import paths
from engine.agent import events as ev
from engine.llm.events import GenerationFinished
from engine.llm.events import TokenDelta as LLMTokenDelta
from gui.bridge.messages import message_bridge
from gui.panels.run_console import QtRunConsole
from gui.widgets.run_dialogs import ApprovalDialog, PlanEditDialog, TrustDialog
from tests.helpers.fake_model import ScriptedModel, call, final
from tests.helpers.file_dialogs import answer, cancel

CALC = """schema_version: 1
name: Tiny calc
goals: [Compute what is asked.]
tools:
  - name: calculator
    approval: {approval}
planning:
  strategy: {strategy}
  max_steps: {steps}
  max_tokens: 400
model:
  name: {model}
  max_step_tokens: 48
"""


def agent_file(folder: Path, model: str = "fake", approval: str = "auto", **kw: Any) -> Path:
    path = folder / "calc.agent.yaml"
    text = CALC.format(
        model=model,
        approval=approval,
        strategy=kw.get("strategy", "react"),
        steps=kw.get("steps", 3),
    )
    path.write_text(text + kw.get("extra", ""), encoding="utf-8")
    return path


def console_for(ctx: Any, qtbot: Any, path: Path, task: str = "What is 2 + 3?") -> QtRunConsole:
    console = QtRunConsole(ctx)
    qtbot.addWidget(console)
    console.show()
    console.set_agent(path)
    console.task.setPlainText(task)
    return console


def scripted(console: QtRunConsole, outputs: list[Any], delay: float = 0.0) -> ScriptedModel:
    model = ScriptedModel(outputs, delay=delay)
    console.models = lambda spec: model
    return model


def run_to_end(console: QtRunConsole, qtbot: Any, timeout: int = 60000) -> None:
    assert console.run() is not None
    qtbot.waitUntil(lambda: console.worker is None, timeout=timeout)


def titles(console: QtRunConsole) -> list[str]:
    return [card.title for card in console.cards.cards]


def test_a_tiny_model_run_streams_cards_and_history(
    ctx: Any, qtbot: Any, tmp_path: Path, tiny_int4: Path
) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, model=str(tiny_int4)))
    run_events: list[Any] = []
    raw: list[Any] = []
    ctx.agents.run_events.connect(run_events.extend)
    ctx.generation.received.connect(raw.extend)
    run_to_end(console, qtbot)
    assert isinstance(run_events[0], ev.RunStarted) and isinstance(run_events[-1], ev.RunFinished)
    deltas = [e for e in run_events if isinstance(e, ev.TokenDelta)]
    assert deltas and console.batcher.flushes < len(deltas)  # batched
    assert console.output.toPlainText().replace("\n", "") == "".join(
        d.text for d in deltas
    ).replace("\n", "")
    # the profiler's feed: raw generation events, one GenerationFinished per model step
    finished = [e for e in raw if isinstance(e, GenerationFinished)]
    assert len(finished) == run_events[-1].metrics.steps >= 1
    assert sum(isinstance(e, LLMTokenDelta) for e in raw) >= len(deltas)
    steps = [e for e in run_events if isinstance(e, ev.ToolCall | ev.FinalAnswer)]
    assert steps and titles(console)[0].startswith("Run of Tiny calc")
    assert titles(console)[-1].startswith(f"Finished: {console.stop_reason}")
    if any(isinstance(e, ev.ToolCall) for e in steps):
        assert any("Tool call: calculator" in t for t in titles(console))
        assert any("Tool result: calculator" in t for t in titles(console))
    # expand / collapse
    card = console.cards.cards[0]
    assert not card.expanded and not card.body.isVisible()
    card.header.click()
    assert card.expanded and card.body.isVisible()
    # history lists the transcript the run wrote, and shows its steps as the same cards
    (transcript,) = list(paths.runs_dir().glob("*.jsonl"))
    assert run_events[0].transcript == str(transcript)
    console.tabs.setCurrentIndex(1)
    assert console.history.count() == 1
    item = console.history.item(0)
    assert "Tiny calc" in item.text() and console.stop_reason in item.text()
    console.history.setCurrentItem(item)
    live = [t for t in titles(console)]
    assert [c.title for c in console.history_cards.cards] == live


def test_approval_allow_runs_the_tool(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, approval="ask"))
    scripted(console, [call("calculator", '{"expression": "2 + 3"}'), final("5")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, ApprovalDialog), timeout=10000)
    dialog = console.dialog
    assert isinstance(dialog, ApprovalDialog) and dialog.isVisible()
    assert "calculator" in dialog.windowTitle() and '"2 + 3"' in dialog.arguments.toPlainText()
    dialog.allow_button.click()
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert any("Tool result: calculator (ok, " in t for t in titles(console))
    assert console.stop_reason == "final_answer"


def test_approval_refuse_tells_the_agent_why(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, approval="ask"))
    scripted(console, [call("calculator", '{"expression": "2 + 3"}'), final("I was not allowed")])
    results: list[Any] = []
    ctx.agents.run_events.connect(
        lambda batch: results.extend(e for e in batch if isinstance(e, ev.ToolResult))
    )
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, ApprovalDialog), timeout=10000)
    console.dialog.reason.setText("not today")  # type: ignore[union-attr]
    console.dialog.refuse_button.click()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    (result,) = results
    assert not result.ok and result.error_kind == "refused" and "not today" in result.output
    assert console.stop_reason == "final_answer"


def test_stop_in_the_approval_dialog_cancels_the_run(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, approval="ask"))
    scripted(console, [call("calculator", '{"expression": "1"}'), final("never")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, ApprovalDialog), timeout=10000)
    console.dialog.stop_button.click()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert console.stop_reason == "cancelled"


def test_stop_button_while_the_dialog_waits_releases_the_worker(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, approval="ask"))
    scripted(console, [call("calculator", '{"expression": "1"}'), final("never")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, ApprovalDialog), timeout=10000)
    dialog = console.dialog
    console.stop_button.click()
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert console.stop_reason == "cancelled" and not dialog.isVisible()  # type: ignore[union-attr]


PLAN = " Plan:\n1. add the numbers\n2. report the sum\n\n"


def test_plan_edit_accept_runs_the_edited_plan(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, strategy="plan_execute", steps=8))
    model = scripted(console, [PLAN, *[final(f"r{i}", "Result") for i in range(3)], final("5")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, PlanEditDialog), timeout=10000)
    dialog = console.dialog
    assert isinstance(dialog, PlanEditDialog)
    assert dialog.plan() == ["add the numbers", "report the sum"]
    dialog.set_step(0, "add 2 and 3")
    dialog.add_step("check it")
    dialog.move_step(-1, row=2)  # "check it" before "report the sum"
    dialog.delete_step(row=2)  # and "report the sum" goes
    dialog.add_step("say the sum")
    assert dialog.plan() == ["add 2 and 3", "check it", "say the sum"]
    dialog.run_button.click()
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert "Do step 2 of the plan: check it" in model.prompts[2]
    assert titles(console)[1] == "Plan (edited): 3 steps"
    assert console.stop_reason == "final_answer"


def test_plan_edit_keep_and_empty(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, strategy="plan_execute", steps=8))
    scripted(console, [PLAN, final("a", "Result"), final("b", "Result"), final("5")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, PlanEditDialog), timeout=10000)
    console.dialog.set_step(0, "changed but kept")  # type: ignore[union-attr]
    console.dialog.keep_button.click()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert titles(console)[1] == "Plan: 2 steps" and console.stop_reason == "final_answer"

    scripted(console, [PLAN])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, PlanEditDialog), timeout=10000)
    console.dialog.delete_step(row=0)  # type: ignore[union-attr]
    console.dialog.delete_step(row=0)  # type: ignore[union-attr]
    console.dialog.run_button.click()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert console.stop_reason == "cancelled"


def test_stop_mid_run(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    console = console_for(ctx, qtbot, agent_file(tmp_path, steps=3))
    scripted(console, [" Thought: " + "counting " * 400], delay=0.01)
    deltas: list[Any] = []
    ctx.agents.run_events.connect(
        lambda batch: deltas.extend(e for e in batch if isinstance(e, ev.TokenDelta))
    )
    console.run()
    qtbot.waitUntil(lambda: len(deltas) >= 5, timeout=10000)
    console.stop_button.click()
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert console.stop_reason == "cancelled" and len(deltas) < 300
    assert titles(console)[-1].startswith("Finished: cancelled")
    assert console.run_button.isEnabled() and not console.stop_button.isEnabled()


TOOL = f"""  - name: shout
    kind: command
    description: echo
    parameters: {{type: object, properties: {{}}}}
    command: [{sys.executable!r}, -c, "print(1)"]
"""


def _tick_all(qtbot: Any, dialog: TrustDialog) -> None:
    for check in dialog.checks:
        assert not dialog.trust_button.isEnabled()  # every item is accepted on its own
        qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(6, check.height() // 2))
    assert dialog.trust_button.isEnabled()


def test_untrusted_agent_asks_then_runs_trusted(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    path = agent_file(tmp_path)
    path.write_text(path.read_text().replace("tools:\n", "tools:\n" + TOOL), encoding="utf-8")
    console = console_for(ctx, qtbot, path)
    model = scripted(console, [final("5"), final("6"), final("7")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, TrustDialog), timeout=10000)
    dialog = console.dialog
    assert isinstance(dialog, TrustDialog) and console.worker is None
    assert len(dialog.items) == 1
    assert dialog.items[0].startswith("command tool shout runs `") and "print(1)" in dialog.items[0]
    _tick_all(qtbot, dialog)
    dialog.trust_button.click()  # runs again, trusted
    qtbot.waitUntil(lambda: console.stop_reason == "final_answer", timeout=10000)
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    run_to_end(console, qtbot)  # the same file stays trusted in this window
    assert console.dialog is None and console.stop_reason == "final_answer"
    # trust belongs to the file's content: a changed file is asked about again
    path.write_text(path.read_text() + "# changed\n", encoding="utf-8")
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, TrustDialog), timeout=10000)
    assert len(model.outputs) == 1  # the changed file did not run
    console.dialog.cancel_button.click()  # type: ignore[union-attr]


def test_trust_is_for_the_content_in_its_folder(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    """The same text in another folder reads its relative paths there: asked again."""
    path = agent_file(tmp_path)
    path.write_text(path.read_text() + "workspace: ../shared\n", encoding="utf-8")
    console = console_for(ctx, qtbot, path)
    model = scripted(console, [final("5"), final("6")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, TrustDialog), timeout=10000)
    _tick_all(qtbot, console.dialog)  # type: ignore[arg-type]
    console.dialog.trust_button.click()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: console.stop_reason == "final_answer", timeout=10000)
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    other = tmp_path / "other"
    other.mkdir()
    copy = other / path.name
    copy.write_bytes(path.read_bytes())
    console.set_agent(copy)
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, TrustDialog), timeout=10000)
    assert console.dialog.items == [  # type: ignore[union-attr]
        f"workspace ../shared ({tmp_path / 'shared'}) is outside the agent's folder"
    ]
    assert len(model.outputs) == 1
    console.dialog.cancel_button.click()  # type: ignore[union-attr]


def test_the_trust_question_lists_every_item_of_an_attack_file(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    (tmp_path / "agent").mkdir()
    path = agent_file(tmp_path / "agent")
    text = path.read_text().replace(
        "tools:\n",
        "tools:\n  - name: files.write\n    approval: auto\n"
        "  - name: python\n    approval: auto\n    settings: {network: true}\n"
        "  - name: http.get\n    settings: {allow_hosts: [evil.example]}\n",
    )
    text += f"workspace: {tmp_path / 'elsewhere'}\n"
    path.write_text(text, encoding="utf-8")
    console = console_for(ctx, qtbot, path)
    model = scripted(console, [final("5")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, TrustDialog), timeout=10000)
    dialog = console.dialog
    assert isinstance(dialog, TrustDialog)
    assert dialog.items == [
        f"workspace {tmp_path / 'elsewhere'} is outside the agent's folder",
        "files.write may write files without asking (approval: auto)",
        "python may run code without asking (approval: auto)",
        "python may use the network (network: true)",
        "http.get may fetch from evil.example",
    ]
    _tick_all(qtbot, dialog)
    qtbot.mouseClick(dialog.checks[2], Qt.MouseButton.LeftButton, pos=QPoint(6, 5))
    assert not dialog.trust_button.isEnabled()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: console.worker is None)  # the trust check's worker winds down
    assert model.outputs == [" Final Answer: 5\n"]  # nothing ran


def test_untrusted_agent_declined_does_not_run(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    path = agent_file(tmp_path)
    path.write_text(path.read_text().replace("tools:\n", "tools:\n" + TOOL), encoding="utf-8")
    console = console_for(ctx, qtbot, path)
    model = scripted(console, [final("5")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, TrustDialog), timeout=10000)
    console.dialog.cancel_button.click()  # type: ignore[union-attr]
    assert console.status.text().startswith("Not run: ")
    assert "reaches outside its folder, and it was not trusted:" in console.status.text()
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)  # its worker has ended
    assert model.outputs


def _messages() -> list[Any]:
    seen: list[Any] = []
    message_bridge().message.connect(seen.append)
    return seen


def test_missing_model_is_a_readable_error(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    seen = _messages()
    console = console_for(ctx, qtbot, agent_file(tmp_path, model="no-such-model"))
    run_to_end(console, qtbot, timeout=10000)
    assert console.status.text().startswith("Cannot run: no prepared model 'no-such-model'")
    assert (
        titles(console) == ["Cannot run"] and "Models panel" in console.cards.cards[0].body.text()
    )
    assert any(m.level == "error" and "no-such-model" in m.text for m in seen)


def test_invalid_agent_file_is_a_readable_error(ctx: Any, qtbot: Any, tmp_path: Path) -> None:
    seen = _messages()
    path = agent_file(tmp_path, strategy="think")
    console = console_for(ctx, qtbot, path)
    run_to_end(console, qtbot, timeout=10000)
    assert "planning.strategy" in console.status.text() and "line" in console.status.text()
    assert any(m.level == "error" and "planning.strategy" in m.text for m in seen)


def test_run_errors_reach_the_console_and_the_messages(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    from engine.errors import PromptTooLongError

    def broken(prompt: str) -> str:
        raise PromptTooLongError("the prompt no longer fits the context")

    seen = _messages()
    console = console_for(ctx, qtbot, agent_file(tmp_path))
    scripted(console, [broken])
    run_to_end(console, qtbot, timeout=10000)
    assert "Error (PromptTooLongError)" in titles(console)
    assert console.stop_reason == "error"
    assert any("no longer fits" in m.text for m in seen)


@pytest.mark.parametrize(
    "agent, task, why", [("", "t", "No agent file"), ("file", "", "Type a task")]
)
def test_missing_input_is_refused(
    ctx: Any, qtbot: Any, tmp_path: Path, agent: str, task: str, why: str
) -> None:
    path = agent_file(tmp_path) if agent else tmp_path / "missing.agent.yaml"
    console = console_for(ctx, qtbot, path, task=task)
    assert console.run() is None and console.status.text().startswith(why)


def test_the_chooser_follows_the_designer_and_recent_files(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    first = agent_file(tmp_path)
    ctx.recent_agents.add(first)
    console = QtRunConsole(ctx)
    qtbot.addWidget(console)
    assert console.agent.currentText() == str(first.resolve())
    other = tmp_path / "other.agent.yaml"
    other.write_text(first.read_text(), encoding="utf-8")
    ctx.agents.opened.emit(other)
    assert console.agent.currentText() == str(other) and console.agent.count() == 2


def test_an_unreadable_transcript_is_a_readable_message(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    seen = _messages()
    console = console_for(ctx, qtbot, agent_file(tmp_path))
    scripted(console, [final("5")])
    run_to_end(console, qtbot, timeout=10000)
    console.tabs.setCurrentIndex(1)
    (transcript,) = list(paths.runs_dir().glob("*.jsonl"))
    transcript.write_text('{"type": "header"}\n{broken\n', encoding="utf-8")
    console.history.setCurrentRow(0)
    assert [c.title for c in console.history_cards.cards] == ["Cannot read"]
    assert any(m.level == "warning" and "cannot read the transcript" in m.text for m in seen)


def test_the_profiler_charts_an_agent_run(window: Any, qtbot: Any, tmp_path: Path) -> None:
    console = window.panels["run"]
    profiler = window.panels["profiler"]
    console.set_agent(agent_file(tmp_path))
    console.task.setPlainText("What is 2 + 3?")
    scripted(console, [call("calculator", '{"expression": "2 + 3"}'), final("it is 5")])
    run_to_end(console, qtbot, timeout=10000)
    assert profiler.data.generations.total_written == 2  # one row per model step
    assert profiler.data.itl.total_written > 0


def test_browse_runs_the_chosen_file_and_cancel_keeps_the_choice(
    ctx: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = agent_file(tmp_path)
    other = tmp_path / "other.agent.yaml"
    other.write_text(first.read_text().replace("Tiny calc", "Other calc"), encoding="utf-8")
    console = console_for(ctx, qtbot, first)
    browse = next(b for b in console.findChildren(QPushButton) if b.text() == "Browse…")
    calls = cancel(monkeypatch, "getOpenFileName")
    browse.click()
    assert calls[0][2] == str(paths.agents_dir()) and "*.agent.yaml" in calls[0][3]
    assert console.agent.currentText() == str(first.resolve()) and console.agent.count() == 1
    answer(monkeypatch, "getOpenFileName", (str(other), ""))
    browse.click()
    assert console.agent.currentText() == str(other.resolve()) and console.agent.count() == 2
    scripted(console, [final("5")])
    run_to_end(console, qtbot, timeout=10000)
    assert titles(console)[0].startswith("Run of Other calc")
    assert ctx.recent_agents.items()[0] == other.resolve()


def test_the_whole_step_is_shown_behind_the_approval_question(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    """Tokens cross in 50 ms batches; the tool call crosses at once with what is pending
    (and the approval hook flushes too), so the step the person is asked about is on
    screen, not stuck in the worker (fails with neither of the two)."""
    console = console_for(ctx, qtbot, agent_file(tmp_path, approval="ask"))
    scripted(console, [call("calculator", '{"expression": "2 + 3"}'), final("5")])
    console.run()
    qtbot.waitUntil(lambda: isinstance(console.dialog, ApprovalDialog), timeout=10000)
    assert '"2 + 3"' in console.output.toPlainText()
    console.dialog.allow_button.click()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)


def test_the_model_s_text_and_errors_are_shown_as_plain_text(
    ctx: Any, qtbot: Any, tmp_path: Path
) -> None:
    """Before, the status label (Qt::AutoText) drew an error's `<img>` as an image, and ESC
    characters went into the output as they were."""
    from PySide6.QtCore import Qt

    from engine.errors import PromptTooLongError

    console = console_for(ctx, qtbot, agent_file(tmp_path))
    scripted(console, [final("<b>bold</b> \x1b[2J\u202edone")])
    run_to_end(console, qtbot, timeout=10000)
    shown = console.output.toPlainText()
    assert "<b>bold</b> \\x1b[2J\\u202edone" in shown and "\x1b" not in shown
    answer_card = next(c for c in console.cards.cards if c.kind == "answer")
    assert "<b>bold</b> \\x1b[2J" in answer_card.body.text()

    def broken(prompt: str) -> str:
        raise PromptTooLongError("<b>bold</b><img src=x>")

    scripted(console, [broken])
    run_to_end(console, qtbot, timeout=10000)
    assert console.status.textFormat() == Qt.TextFormat.PlainText
    assert any("<b>bold</b><img src=x>" in c.body.text() for c in console.cards.cards)
