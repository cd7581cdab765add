"""Step cards: one card per kind of run event, the same from a live event or a transcript."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from engine.agent import events as ev
from gui.theme import load_theme
from gui.widgets.step_cards import StepCardList, describe


def kinds(event: dict[str, Any]) -> list[tuple[str, str]]:
    return [(kind, title) for kind, title, _body, _open in describe(event)]


def test_every_event_kind_has_its_card() -> None:
    call = ev.ToolCall(1.0, 2, "calculator", {"expression": "2 + 3"}, thought="add them")
    assert kinds(call.to_json()) == [
        ("thought", "Step 2 · Thought"),
        ("tool", "Step 2 · Tool call: calculator"),
    ]
    body = describe(call.to_json())[1][2]
    assert '"expression": "2 + 3"' in body
    bad = ev.ToolCall(1.0, 1, "nope", {}, valid=False, problems=("unknown tool 'nope'",))
    assert kinds(bad.to_json()) == [("failed", "Step 1 · Invalid step: nope")]
    assert "unknown tool" in describe(bad.to_json())[0][2]
    ok = ev.ToolResult(1.0, 2, "calculator", True, "5", duration_s=0.0123)
    assert kinds(ok.to_json()) == [("result", "Step 2 · Tool result: calculator (ok, 0.012 s)")]
    refused = ev.ToolResult(1.0, 2, "python", False, "refused: no", error_kind="refused")
    assert kinds(refused.to_json()) == [("failed", "Step 2 · Tool result: python (refused)")]
    hit = ev.MemoryHit(1.0, 0, "q", "the user likes tea", 0.8312, source="history")
    (card,) = describe(hit.to_json())
    assert card[:2] == ("memory", "Memory hit · score 0.831") and "likes tea" in card[2]
    assert "source: history" in card[2]
    refl = ev.Reflection(1.0, 3, "too vague", "revise", lesson="be exact")
    assert kinds(refl.to_json()) == [("reflection", "Reflection · verdict revise")]
    assert "be exact" in describe(refl.to_json())[0][2]
    answer = ev.FinalAnswer(1.0, 3, "5", forced=True)
    assert kinds(answer.to_json()) == [
        ("answer", "Step 3 · Final answer (forced by the step budget)")
    ]
    err = ev.RunError(1.0, 1, "the prompt no longer fits", kind="PromptTooLongError")
    assert kinds(err.to_json()) == [("error", "Error (PromptTooLongError)")]
    done = ev.RunFinished(1.0, 3, "max_steps", None, ev.RunMetrics(steps=3, generated_tokens=40))
    assert kinds(done.to_json())[0][1].startswith("Finished: max_steps · 3 steps, 40 tokens")


def test_plan_cards_follow_the_plan() -> None:
    plan = ("add", "report")
    assert kinds(ev.PlanStep(1.0, 1, plan, edited=True).to_json()) == [
        ("plan", "Plan (edited): 2 steps")
    ]
    assert "1. add\n2. report" in describe(ev.PlanStep(1.0, 1, plan).to_json())[0][2]
    started = ev.PlanStep(1.0, 2, plan, status="started", index=1)
    assert kinds(started.to_json()) == [("plan", "Step 2 · Plan step 2 started")]
    done = ev.PlanStep(1.0, 2, plan, status="done", index=0, result="5")
    assert "result: 5" in describe(done.to_json())[0][2]


def test_tokens_and_unknown_events_get_no_card() -> None:
    assert describe(ev.TokenDelta(1.0, 1, "x").to_json()) == []
    assert describe({"type": "GenerationTiming", "step": 1, "ttft_ms": 3.0}) == []
    assert describe({}) == []


def test_cards_expand_collapse_and_clear(qtbot: Any) -> None:
    cards = StepCardList(load_theme("dark"))
    qtbot.addWidget(cards)
    cards.show()
    added = cards.add_event(ev.ToolCall(1.0, 1, "calculator", {"expression": "1"}).to_json())
    finished = cards.add_event(
        ev.RunFinished(1.0, 1, "final_answer", "1", ev.RunMetrics()).to_json()
    )
    (call,), (done,) = added, finished
    assert call.expanded and not call.body.isHidden()
    assert not done.expanded and done.body.isHidden()
    call.header.click()
    assert not call.expanded and call.body.isHidden()
    cards.set_expanded(True)
    assert all(c.expanded and not c.body.isHidden() for c in cards.cards)
    cards.clear()
    assert cards.cards == [] and cards.column.count() == 1  # only the stretch is left


HOSTILE = "\x1b]0;pwned\x07\x1b[2J<b>bold</b><img src=x>\u202eevil"


def test_a_tool_result_is_shown_as_the_text_it_is(qtbot: Any) -> None:
    """Markup in a tool's output is shown, not drawn; control characters are made visible."""
    cards = StepCardList(load_theme("dark"))
    qtbot.addWidget(cards)
    cards.show()
    (card,) = cards.add_event(ev.ToolResult(1.0, 1, "files.read&x", True, HOSTILE).to_json())
    assert card.body.textFormat() == Qt.TextFormat.PlainText
    assert card.body.text() == "\\x1b]0;pwned\\x07\\x1b[2J<b>bold</b><img src=x>\\u202eevil"
    assert "files.read&&x" in card.header.text()  # a literal `&`, not a keyboard shortcut
    (answer,) = cards.add_event(ev.FinalAnswer(1.0, 2, HOSTILE).to_json())
    assert (
        "<b>bold</b><img src=x>\\u202eevil" in answer.body.text()
        and "\x1b" not in answer.body.text()
    )
