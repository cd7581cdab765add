"""Model-judged checks: off by default, a constrained yes/no verdict when on."""

from __future__ import annotations

from engine.eval.checks import apply
from engine.eval.judge import model_judge
from engine.eval.outcome import RunOutcome
from engine.eval.suitefile import _check
from tests.helpers.fake_model import ScriptedModel


def test_judge_checks_are_off_by_default_and_labelled() -> None:
    (result,) = apply([_check({"judge": "polite"})], RunOutcome("Hi", "final_answer"))
    assert result.passed is None and result.model_judged
    assert "off" in result.reason and "--judge" in result.reason


def test_the_judge_says_yes_or_no_under_a_choice_grammar() -> None:
    judge_model = ScriptedModel(["yes", "no"])
    judge = model_judge(lambda name: judge_model)
    check = _check({"judge": {"rubric": "The answer is polite.", "model": "j"}})
    run = RunOutcome("Thank you!", "final_answer")
    yes, no = (apply([check], run, "Say thanks", judge)[0] for _ in range(2))
    assert (yes.passed, no.passed) == (True, False)
    assert yes.reason == 'the judge said yes: "yes (judged by fake)"' and yes.model_judged
    assert "The answer is polite." in judge_model.prompts[0]
    assert "Thank you!" in judge_model.prompts[0]
    assert judge_model.grammars[0].kind == "choice"
