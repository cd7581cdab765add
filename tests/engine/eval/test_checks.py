# ruff: noqa: E501  (tables of cases: one case per line)
"""Every check passes and fails on purpose, each with the reason it gives."""

from __future__ import annotations

from typing import Any

import pytest

from engine.eval.checks import CheckResult, apply, numbers, passed
from engine.eval.outcome import RunOutcome, ToolUse
from engine.eval.suitefile import _check


def outcome(answer: str | None = "The port is 8080.", **fields: Any) -> RunOutcome:
    run = RunOutcome(answer=answer, stop_reason="final_answer" if answer else "max_steps")
    run.steps, run.latency_ms, run.generated_tokens = 2, 1500.0, 40
    run.tool_calls = [
        ToolUse("files.search", {"text": "port"}, valid=True, accepted=True),
        ToolUse("files.read", {"path": "config.ini", "limit": 5}, valid=True, accepted=True),
        ToolUse("rm -rf", {}, valid=False),
    ]
    for key, value in fields.items():
        setattr(run, key, value)
    return run


def one(check: dict[str, Any], run: RunOutcome) -> CheckResult:
    (result,) = apply([_check(check)], run, "the task")
    return result


CASES = [
    # check, answer / outcome fields, passes, words in the reason
    ({"number": 1048576}, {"answer": "2^20 is 1,048,576 (a power of two)."}, True, "final number is 1048576"),
    ({"number": 1048576}, {"answer": "It is 1,048,575."}, False, "is 1048575, not 1048576"),
    ({"number": {"value": 37.78, "tolerance": 0.01}}, {"answer": "37.7778 C"}, True, "within 0.01"),
    ({"number": {"value": 100, "tolerance": 0.05, "relative": True}}, {"answer": "about 106"}, False, "not 100 ± 5"),
    ({"number": 5}, {"answer": "five"}, False, "has no number"),
    ({"contains": "8080"}, {}, True, 'contains "8080"'),
    ({"contains": "9090"}, {}, False, '"9090" is not in the answer: "The port is 8080."'),
    ({"contains": {"text": "PORT", "case_sensitive": True}}, {}, False, "is not in the answer"),
    ({"not_contains": "9090"}, {}, True, 'does not contain "9090"'),
    ({"not_contains": "port"}, {}, False, 'the answer contains "port"'),
    ({"regex": r"\b80[0-9]{2}\b"}, {}, True, 'matches "8080"'),
    ({"regex": r"^\d+$"}, {}, False, "does not match the answer"),
    ({"equals": "the port is 8080"}, {}, True, "the answer is"),
    ({"equals": "8080"}, {}, False, 'not "8080"'),
    ({"json_schema": {"type": "object", "required": ["port"]}}, {"answer": '```json\n{"port": 8080}\n```'}, True, "meets the schema"),
    ({"json_schema": {"type": "object", "required": ["port"]}}, {"answer": '{"host": "x"}'}, False, "'port' is a required property"),
    ({"json_schema": {"type": "object"}}, {}, False, "the answer is not JSON"),
    ({"tool_used": "files.read"}, {}, True, "files.read was called 1 time(s), 1 accepted"),
    ({"tool_used": "files.list"}, {}, False, "files.list was never called (called: files.search, files.read, rm -rf (invalid))"),
    ({"tool_sequence": ["files.search", "files.read"]}, {}, True, "in order: files.search -> files.read"),
    ({"tool_sequence": ["files.read", "files.search"]}, {}, False, "missing files.search after files.read"),
    ({"tool_args": {"tool": "files.read", "args": {"path": "config.ini"}}}, {}, True, 'called with {"path": "config.ini"}'),
    ({"tool_args": {"tool": "files.read", "args": {"path": "other.ini"}}}, {}, False, 'its arguments: {"path": "config.ini", "limit": 5}'),
    ({"max_steps": 2}, {}, True, "2 step(s), within the limit of 2"),
    ({"max_steps": 1}, {}, False, "2 step(s), over the limit of 1"),
    ({"max_latency_ms": 2000}, {}, True, "1500 ms, within"),
    ({"max_latency_ms": 1000}, {}, False, "1500 ms, over the limit of 1000 ms"),
    ({"max_tokens": 40}, {}, True, "40 generated tokens, within"),
    ({"max_tokens": 39}, {}, False, "40 generated tokens, over the limit of 39"),
]  # fmt: skip


@pytest.mark.parametrize(("check", "fields", "ok", "words"), CASES)
def test_each_check_passes_and_fails_with_its_reason(
    check: dict[str, Any], fields: dict[str, Any], ok: bool, words: str
) -> None:
    result = one(check, outcome(**fields))
    assert result.passed is ok, result.reason
    assert words in result.reason
    assert result.kind == next(iter(check)) and not result.model_judged


def test_every_check_kind_is_tested_both_ways() -> None:
    from engine.eval.suitefile import CHECK_KINDS

    both = {next(iter(c)) for c, _, ok, _ in CASES if ok} & {
        next(iter(c)) for c, _, ok, _ in CASES if not ok
    }
    assert both | {"judge"} == set(CHECK_KINDS)  # judge: test_judge.py


def test_answer_checks_fail_without_an_answer_and_say_why() -> None:
    run = outcome(None, errors=["ModelError: boom"], stop_reason="error")
    result = one({"contains": "x"}, run)
    assert result.passed is False
    assert result.reason == "no final answer (the run stopped: error; ModelError: boom)"


def test_a_task_without_checks_passes_on_a_final_answer() -> None:
    assert apply([], outcome()) == [
        CheckResult("answered", "answered", True, "the run gave a final answer")
    ]
    assert apply([], outcome(None))[0].passed is False


def test_a_run_passes_when_every_applied_check_passes() -> None:
    ok = CheckResult("a", "contains", True, "")
    skipped = CheckResult("j", "judge", None, "", model_judged=True)
    assert passed([ok, skipped])
    assert not passed([ok, CheckResult("b", "regex", False, "")])


def test_numbers_are_read_as_people_write_them() -> None:
    assert numbers("1,048,576 and -3.5, on 2025-03-14, v1.2, 2e3") == [
        1048576, -3.5, 2025, 3, 14, 1.2, 2000
    ]  # fmt: skip
