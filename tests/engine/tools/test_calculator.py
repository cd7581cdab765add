"""The calculator evaluates arithmetic by walking the syntax tree and refuses the rest."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from engine.tools import calculator
from engine.tools.base import ToolContext, ToolError
from engine.tools.calculator import evaluate
from engine.tools.catalog import build_registry
from tests.helpers.responsive import longest_gap, ticking


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("2 ^ 10", 1024),
        ("-(3 - 5)", 2),
        ("+4", 4),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 3)", 3.142),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("factorial(10)", 3628800),
        ("log10(1000)", 3.0),
        ("2 ** -2", 0.25),
        ("1.5e3 * 2", 3000.0),
        ("2 ** 100", 2**100),
    ],
)
def test_arithmetic(expression: str, expected: float) -> None:
    assert evaluate(expression) == expected


def test_float_functions() -> None:
    assert evaluate("sin(pi / 2)") == pytest.approx(1.0)
    assert evaluate("e ** 2") == pytest.approx(math.e**2)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("9**9**9", "more than 1000 digits"),
        ("10 ** 5000", "more than 1000 digits"),
        ("factorial(100000)", "factorial: argument 1 100000 is outside 0..1000"),
        ("(10**900) * (10**900)", "more than 1000 digits"),
        ("__import__('os').system('true')", "not an allowed function"),
        ("open('/etc/passwd')", "not an allowed function"),
        ("(1).__class__", "Attribute is not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("[1, 2]", "List is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("1 if 2 else 3", "IfExp is not allowed"),
        ("1 < 2", "Compare is not allowed"),
        ("round(2.5, ndigits=1)", "keyword arguments"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("2.0 ** 99999", "cannot compute"),
        ("sqrt(-1)", "cannot compute"),
        ("1e308 * 10", "not a finite number"),
        ("1 +", "not a valid expression"),
        ("1" + "+1" * 400, "longer than 500 characters"),
    ],
)
def test_refusals_name_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(ToolError, match=reason):
        evaluate(expression)


def test_refusing_a_huge_power_is_instant() -> None:
    start = time.monotonic()
    with pytest.raises(ToolError):
        evaluate("9**9**9**9")
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("round(1, -2*10**7)", "^round: ndigits -20000000 is outside -1000..1000$"),
        ("round(2.5, 10**9)", "round: ndigits 1000000000 is outside"),
        ("factorial(-3)", "factorial: argument 1 -3 is outside 0..1000"),
        ("comb(5000, 2)", "comb: argument 1 5000 is outside 0..1000"),
        ("(10**600) * (10**600)", "product would have more than 1000 digits"),
        ("2 ** (10**900)", r"2\*\*<a 901-digit number> would have more than 1000 digits"),
        ("lcm(10**600 + 1, 10**600 + 3)", "more than 1000 digits"),
        ("abs((-8) ** 0.5)", "complex number"),
        ("1 << 10**9", "the operator << is not allowed"),
        ("~5", "the operator ~ is not allowed"),
    ],
)
def test_every_integer_argument_is_bounded_before_it_is_used(expression: str, reason: str) -> None:
    start = time.monotonic()
    with pytest.raises(ToolError, match=reason):
        evaluate(expression)
    assert time.monotonic() - start < 1.0


def test_the_tool_refuses_a_huge_round_at_once(workspace: Path, ctx: ToolContext) -> None:
    with build_registry([{"name": "calculator"}], workspace=workspace) as reg:
        result = reg.call("calculator", {"expression": "round(1, -2*10**7)"}, context=ctx)
        assert reg.call("calculator", {"expression": "round(12345, -2)"}, context=ctx).data == 12300
    assert not result.ok and result.error_kind == "failed"
    assert result.output == "round: ndigits -20000000 is outside -1000..1000"
    assert result.duration_s < calculator.TIMEOUT_S


def test_what_slips_past_the_checks_is_killed_at_the_time_limit(
    workspace: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evaluator with no checks at all (plain eval, in the worker) meets the hard stop."""
    monkeypatch.setattr(calculator, "EVALUATE", "builtins:eval")
    monkeypatch.setattr(calculator, "TIMEOUT_S", 1.0)
    with build_registry([{"name": "calculator"}], workspace=workspace) as reg:
        start = time.monotonic()
        with ticking() as ticks:
            result = reg.call("calculator", {"expression": "round(1, -2*10**7)"}, context=ctx)
        took = time.monotonic() - start
    assert result.error_kind == "timeout"
    assert result.output == "the calculation did not finish within 1 s and was stopped"
    assert took < 1.0 + 2.0
    assert longest_gap(ticks) < 0.5
