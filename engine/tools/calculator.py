"""The calculator: arithmetic by walking the expression's syntax tree, never `eval`.

Only numbers, + - * / // % **, unary signs, parentheses and an allow-list of `math`
functions and constants are accepted. Sizes are bounded before they are computed, so
`9**9**9` or `factorial(10**6)` are refused instead of eating the machine.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.tools.base import Tool, ToolError
from engine.tools.builtin import BuiltinSpec

MAX_EXPRESSION_CHARS = 500
#: Largest whole number a step may produce, in decimal digits.
MAX_DIGITS = 1000
MAX_FACTORIAL = 1000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: getattr(math, name)
    for name in (
        "sqrt",
        "cbrt",
        "exp",
        "log",
        "log2",
        "log10",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "atan2",
        "sinh",
        "cosh",
        "tanh",
        "degrees",
        "radians",
        "hypot",
        "floor",
        "ceil",
        "trunc",
        "fabs",
        "gcd",
        "lcm",
        "factorial",
        "comb",
        "perm",
        "isqrt",
    )
    if hasattr(math, name)
} | {"abs": abs, "round": round, "min": min, "max": max}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _digits(value: int) -> int:
    return int(abs(value).bit_length() * 0.30103) + 1


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and _digits(value) > MAX_DIGITS:
        raise ToolError(f"the result has more than {MAX_DIGITS} digits; refused")
    return value


def _power(base: Any, exponent: Any) -> Any:
    whole = isinstance(base, int) and isinstance(exponent, int)
    if whole and abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > MAX_DIGITS:
        raise ToolError(f"{base}**{exponent} would have more than {MAX_DIGITS} digits")
    return base**exponent


def _call(name: str, args: list[Any]) -> Any:
    if name in ("factorial", "comb", "perm") and any(
        isinstance(a, int) and a > MAX_FACTORIAL for a in args
    ):
        raise ToolError(f"{name}() is limited to arguments up to {MAX_FACTORIAL}")
    return _FUNCTIONS[name](*args)


def _walk(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _walk(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ToolError(f"only numbers are allowed, not {node.value!r}")
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow):
            return _check_size(_power(left, right))
        return _check_size(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError(f"unknown name {node.id!r}; known constants: {', '.join(_CONSTANTS)}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            shown = ast.unparse(node.func)
            raise ToolError(f"{shown}() is not an allowed function; allowed: {_allowed()}")
        if node.keywords:
            raise ToolError("keyword arguments are not allowed")
        return _check_size(_call(node.func.id, [_walk(a) for a in node.args]))
    raise ToolError(f"{type(node).__name__} is not allowed in a calculation")


def _allowed() -> str:
    return ", ".join(sorted(_FUNCTIONS))


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression; `ToolError` with the reason when refused."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip().replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not a valid expression: {exc.msg}") from exc
    try:
        value = _walk(tree)
    except ZeroDivisionError as exc:
        raise ToolError("division by zero") from exc
    except (OverflowError, ValueError, TypeError) as exc:
        raise ToolError(f"cannot compute: {exc}") from exc
    except RecursionError as exc:
        raise ToolError("the expression is nested too deeply") from exc
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number")
    if isinstance(value, complex):
        raise ToolError("the result is a complex number")
    return value


def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression exactly as written.

    Supports + - * / // % ** (or ^), parentheses, the constants pi, e, tau and the functions
    sqrt, log, log10, exp, sin, cos, tan, floor, ceil, round, abs, min, max, factorial and
    more from Python's math module.

    Args:
        expression: the expression, e.g. "(17 + 5) * 3 / sqrt(2)"
    """
    return evaluate(expression)


def _build(settings: Mapping[str, Any], workspace: Path) -> Tool:
    return Tool.from_function(calculator, timeout_s=5.0)


SPEC = BuiltinSpec(
    name="calculator",
    description="Evaluates arithmetic expressions safely (numbers, operators, math functions).",
    factory=_build,
)
