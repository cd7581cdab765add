"""Apply a task's checks to what a run did; each result says why it passed or failed.

    results = apply(task.checks, outcome, judge=None)   # [CheckResult(check, passed, reason)]

`passed` is None for a check that was not applied (a model-judged check while judging is
off): it counts neither for nor against the run. A run passes when every applied check
passes; a task without checks passes when the run ended with a final answer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from engine.eval.outcome import RunOutcome
from engine.eval.suitefile import Check

#: (rubric, task input, answer, model name or None) -> (verdict, the judge's own words).
Judge = Callable[[str, str, str, str | None], tuple[bool, str]]

#: A number as people write it: 1,048,576 / -3.5 / 2e6 (a '-' inside a word or a date is
#: not a sign).
_NUMBER = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
    r"|(?<=[\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
)
SHOWN = 120  # characters of an answer quoted in a reason


@dataclass(frozen=True)
class CheckResult:
    check: str  # the check as the suite says it: `contains "8080"`
    kind: str
    passed: bool | None  # None: not applied (model-judged checks while judging is off)
    reason: str
    model_judged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "kind": self.kind,
            "passed": self.passed,
            "reason": self.reason,
            "model_judged": self.model_judged,
        }


def passed(results: Sequence[CheckResult]) -> bool:
    return all(r.passed is not False for r in results)


def apply(
    checks: Sequence[Check], outcome: RunOutcome, task_input: str = "", judge: Judge | None = None
) -> list[CheckResult]:
    if not checks:
        ok = outcome.stop_reason == "final_answer"
        reason = "the run gave a final answer" if ok else f"no final answer ({_stopped(outcome)})"
        return [CheckResult("answered", "answered", ok, reason)]
    return [_one(check, outcome, task_input, judge) for check in checks]


def _one(check: Check, outcome: RunOutcome, task_input: str, judge: Judge | None) -> CheckResult:
    label, o = check.label, check.options
    answer = outcome.answer
    if check.kind == "judge":
        if judge is None:
            reason = "not applied: model-judged checks are off (eval run --judge turns them on)"
            return CheckResult(label, check.kind, None, reason, model_judged=True)
        if answer is None:
            return CheckResult(label, check.kind, False, _no_answer(outcome), model_judged=True)
        verdict, words = judge(o["rubric"], task_input, answer, o["model"])
        reason = f"the judge said {'yes' if verdict else 'no'}: {_quote(words)}"
        return CheckResult(label, check.kind, verdict, reason, model_judged=True)
    rule = _RULES[check.kind]
    if check.kind in _ANSWER_CHECKS and answer is None:
        return CheckResult(label, check.kind, False, _no_answer(outcome))
    ok, reason = rule(o, outcome)
    return CheckResult(label, check.kind, ok, reason)


def numbers(text: str) -> list[float]:
    """The numbers in `text`, in order ("1,048,576" is one number)."""
    return [float(m.group().replace(",", "")) for m in _NUMBER.finditer(text)]


def _number(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    found = numbers(run.answer or "")
    want, tol = float(o["value"]), float(o["tolerance"])
    if not found:
        return False, f"the answer has no number: {_quote(run.answer)}"
    got = found[-1]
    allowed = tol * abs(want) if o["relative"] else tol
    ok = math.isclose(got, want, rel_tol=1e-9, abs_tol=max(allowed, 1e-9))
    shown = f"{_fmt(got)}" + (f" (within {_fmt(allowed)})" if allowed else "")
    if ok:
        return True, f"the answer's final number is {shown}"
    return False, f"the answer's final number is {_fmt(got)}, not {_fmt(want)}" + (
        f" ± {_fmt(allowed)}" if allowed else ""
    )


def _fmt(x: float) -> str:
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _fold(text: str, case_sensitive: bool) -> str:
    text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


def _contains(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    want = o["text"]
    if _fold(want, o["case_sensitive"]) in _fold(run.answer or "", o["case_sensitive"]):
        return True, f"the answer contains {json.dumps(want, ensure_ascii=False)}"
    return (
        False,
        f"{json.dumps(want, ensure_ascii=False)} is not in the answer: {_quote(run.answer)}",
    )


def _not_contains(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    ok, _ = _contains(o, run)
    want = json.dumps(o["text"], ensure_ascii=False)
    if ok:
        return False, f"the answer contains {want}: {_quote(run.answer)}"
    return True, f"the answer does not contain {want}"


def _equals(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    def norm(text: str) -> str:
        return _fold(text, o["case_sensitive"]).strip().rstrip(".")

    want = json.dumps(o["text"], ensure_ascii=False)
    if norm(run.answer or "") == norm(o["text"]):
        return True, f"the answer is {want}"
    return False, f"the answer is {_quote(run.answer)}, not {want}"


def _regex(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    flags = 0 if o["case_sensitive"] else re.IGNORECASE
    match = re.search(o["pattern"], run.answer or "", flags)
    if match:
        return True, f"the pattern matches {json.dumps(match.group(), ensure_ascii=False)}"
    return False, f"the pattern {o['pattern']} does not match the answer: {_quote(run.answer)}"


def _json_schema(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    text = (run.answer or "").strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return False, f"the answer is not JSON ({exc.msg}): {_quote(run.answer)}"
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(o["value"]).iter_errors(value)
    )
    if error is None:
        return True, "the answer is JSON that meets the schema"
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return False, f"the answer's JSON does not meet the schema at {where}: {error.message}"


def _used(run: RunOutcome) -> str:
    names = [c.tool if c.valid else f"{c.tool or '?'} (invalid)" for c in run.tool_calls]
    return ", ".join(names) if names else "no tool"


def _tool_used(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    tool = o["value"]
    calls = [c for c in run.valid_calls if c.tool == tool]
    if not calls:
        return False, f"{tool} was never called (called: {_used(run)})"
    accepted = sum(c.accepted for c in calls)
    return True, f"{tool} was called {len(calls)} time(s), {accepted} accepted"


def _tool_sequence(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    want: list[str] = list(o["value"])
    called = [c.tool for c in run.valid_calls]
    position = 0
    for tool in called:
        if position < len(want) and tool == want[position]:
            position += 1
    if position == len(want):
        return True, f"the tools were called in order: {' -> '.join(want)}"
    return False, (
        f"missing {want[position]} after {' -> '.join(want[:position]) or 'the start'} "
        f"(called in order: {_used(run)})"
    )


def subset(want: Any, got: Any) -> bool:
    """Is `want` contained in `got`: every key of a mapping (recursively), every item of a
    list in order, scalars equal (numbers by value, text ignoring surrounding space)?"""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in got and subset(v, got[k]) for k, v in want.items()
        )
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(map(subset, want, got))
    if isinstance(want, str) and isinstance(got, str):
        return want.strip() == got.strip()
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(want, got)
    return bool(want == got)


def _tool_args(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    tool, args = o["value"]["tool"], o["value"]["args"]
    calls = [c for c in run.valid_calls if c.tool == tool]
    shown = json.dumps(args, ensure_ascii=False)
    if not calls:
        return False, f"{tool} was never called (called: {_used(run)})"
    for call in calls:
        if subset(args, call.arguments):
            return True, f"{tool} was called with {shown}"
    seen = "; ".join(json.dumps(c.arguments, ensure_ascii=False)[:SHOWN] for c in calls)
    return False, f"{tool} was never called with {shown} (its arguments: {seen})"


def _max_steps(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    ok = run.steps <= o["value"]
    return ok, f"{run.steps} step(s), {'within' if ok else 'over'} the limit of {o['value']}"


def _max_latency(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    ok = run.latency_ms <= o["value"]
    word = "within" if ok else "over"
    return ok, f"{run.latency_ms:.0f} ms, {word} the limit of {_fmt(float(o['value']))} ms"


def _max_tokens(o: dict[str, Any], run: RunOutcome) -> tuple[bool, str]:
    ok = run.generated_tokens <= o["value"]
    word = "within" if ok else "over"
    return ok, f"{run.generated_tokens} generated tokens, {word} the limit of {o['value']}"


def _stopped(run: RunOutcome) -> str:
    detail = f"; {run.errors[-1]}" if run.errors else ""
    return f"the run stopped: {run.stop_reason}{detail}"


def _no_answer(run: RunOutcome) -> str:
    return f"no final answer ({_stopped(run)})"


def _quote(text: str | None) -> str:
    if text is None:
        return "(none)"
    flat = " ".join(text.split())
    return json.dumps(flat if len(flat) <= SHOWN else flat[: SHOWN - 3] + "...", ensure_ascii=False)


_Rule = Callable[[dict[str, Any], RunOutcome], tuple[bool, str]]
_RULES: dict[str, _Rule] = {
    "number": _number,
    "contains": _contains,
    "not_contains": _not_contains,
    "equals": _equals,
    "regex": _regex,
    "json_schema": _json_schema,
    "tool_used": _tool_used,
    "tool_sequence": _tool_sequence,
    "tool_args": _tool_args,
    "max_steps": _max_steps,
    "max_latency_ms": _max_latency,
    "max_tokens": _max_tokens,
}
_ANSWER_CHECKS = frozenset({"number", "contains", "not_contains", "equals", "regex", "json_schema"})
