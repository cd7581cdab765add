"""The run's dialogs answer exactly once, with what the person chose."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox

from gui.agent_job import STOP, Approval
from gui.widgets.run_dialogs import ApprovalDialog, PlanEditDialog, TrustDialog

REQUEST = Approval("python", "runs Python code", "ask", {"code": "print(1)"})


def answers(dialog: Any) -> list[object]:
    seen: list[object] = []
    dialog.answered.connect(seen.append)
    dialog.open()
    return seen


def test_approval_answers(qtbot: Any) -> None:
    for action, expected in (
        (lambda d: d.allow_button.click(), [True]),
        (lambda d: d.refuse_button.click(), ["the person refused"]),
        (lambda d: d.refuse("  too risky "), ["too risky"]),
        (lambda d: d.stop_button.click(), [STOP]),
        (lambda d: d.reject(), ["the person closed the approval dialog"]),
    ):
        dialog = ApprovalDialog(REQUEST)
        qtbot.addWidget(dialog)
        seen = answers(dialog)
        assert "print(1)" in dialog.arguments.toPlainText()
        action(dialog)
        assert seen == expected and not dialog.isVisible()


def test_plan_dialog_edits_and_drops_blank_steps(qtbot: Any) -> None:
    dialog = PlanEditDialog(["a", "b"])
    qtbot.addWidget(dialog)
    seen = answers(dialog)
    dialog.set_step(1, "   ")
    dialog.move_step(1, row=0)  # "a" moves below the blank step
    dialog.move_step(1, row=1)  # already last: nothing happens
    dialog.delete_step(row=7)  # no such row: nothing happens
    assert dialog.plan() == ["a"] and dialog.steps.item(1).text() == "a"
    dialog.run_button.click()
    assert seen == [["a"]]
    keep = PlanEditDialog(["a"])
    qtbot.addWidget(keep)
    kept = answers(keep)
    keep.keep_button.click()
    assert kept == [None]


def tick(qtbot: Any, check: QCheckBox) -> None:
    """Click the box itself, as a person does (the row is wider than its label)."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(6, check.height() // 2))


def test_trust_dialog_runs_only_with_every_item_ticked(qtbot: Any) -> None:
    items = ["workspace / is outside the agent's folder", "command tool sh runs `a && b`"]
    dialog = TrustDialog("x.agent.yaml", items)
    qtbot.addWidget(dialog)
    dialog.show()
    seen = answers(dialog)
    assert len(dialog.checks) == 2 and not any(c.isChecked() for c in dialog.checks)
    assert [c.toolTip() for c in dialog.checks] == items
    assert dialog.checks[1].text() == "command tool sh runs `a &&&& b`"  # "&" shown, no mnemonic
    assert not dialog.trust_button.isEnabled()
    tick(qtbot, dialog.checks[0])
    assert dialog.checks[0].isChecked() and not dialog.trust_button.isEnabled()
    dialog.trust_button.click()  # disabled: nothing happens
    dialog.accept()  # nor through the dialog itself
    assert seen == []
    tick(qtbot, dialog.checks[1])
    assert dialog.trust_button.isEnabled()
    tick(qtbot, dialog.checks[0])  # untick one: disabled again
    assert not dialog.trust_button.isEnabled()
    tick(qtbot, dialog.checks[0])
    qtbot.mouseClick(dialog.trust_button, Qt.MouseButton.LeftButton)
    assert seen == [True]


def test_trust_dialog_cancel_does_not_trust(qtbot: Any) -> None:
    dialog = TrustDialog("x.agent.yaml", ["command tool sh runs `ls -l`"])
    qtbot.addWidget(dialog)
    seen = answers(dialog)
    dialog.checks[0].setChecked(True)
    dialog.cancel_button.click()
    assert seen == [False]


def test_enter_never_allows_or_trusts(qtbot: Any) -> None:
    dialog = ApprovalDialog(Approval("<b>x</b>", "", "ask", {}))
    qtbot.addWidget(dialog)
    seen = answers(dialog)
    dialog.reason.setText("no")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    assert seen == ["no"]
    trust = TrustDialog("a.agent.yaml", ["tool t: ls"])
    qtbot.addWidget(trust)
    assert trust.cancel_button.isDefault() and not trust.trust_button.isDefault()
