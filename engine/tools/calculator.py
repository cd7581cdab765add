"""The calculator: arithmetic by walking the expression's syntax tree, never `eval`.

Only numbers, + - * / // % **, unary signs, parentheses and an allow-list of `math`
functions and constants are accepted. Sizes are bounded before they are computed, so
`9**9**9`, `factorial(10**6)` or `round(1, -2*10**7)` are refused at once instead of eating
the machine. And the tool evaluates in a worker process (`engine.tools.worker`) that is
killed at the time limit, for whatever a check would miss: a thread cannot stop a C call
that holds the GIL.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.tools import worker, written
from engine.tools.base import Tool, ToolContext, ToolError
from engine.tools.builtin import BuiltinSpec

MAX_EXPRESSION_CHARS = 500
#: Largest whole number a step may produce, in decimal digits.
MAX_DIGITS = 1000
MAX_FACTORIAL = 1000
#: Seconds a calculation may take before its worker process is killed.
TIMEOUT_S = 5.0
#: What the worker runs (a test swaps in an evaluator without checks).
EVALUATE = "engine.tools.calculator:evaluate"

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
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
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


#: How the grammar lets a model write an expression (engine.tools.written).
EXPRESSION_PATTERN = written.arithmetic_pattern(_FUNCTIONS, _CONSTANTS)


def _digits(value: int) -> int:
    """Decimal digits of a whole number, from its bit length (never off by more than one)."""
    return int(abs(value).bit_length() * 0.30103) + 1


def _check_size(value: Any) -> Any:
    if isinstance(value, complex):
        raise ToolError("the result is a complex number")
    if isinstance(value, int) and _digits(value) > MAX_DIGITS:
        raise ToolError(f"the result has more than {MAX_DIGITS} digits; refused")
    return value


def _power(base: Any, exponent: Any) -> Any:
    whole = isinstance(base, int) and isinstance(exponent, int)
    # abs(base) >= 2 has log10 >= 0.3: a bigger exponent is refused before any float math.
    if (
        whole
        and abs(base) > 1
        and exponent > 0
        and (exponent > MAX_DIGITS * 4 or exponent * math.log10(abs(base)) > MAX_DIGITS)
    ):
        raise ToolError(
            f"{_short(base)}**{_short(exponent)} would have more than {MAX_DIGITS} digits"
        )
    return base**exponent


def _multiply(left: Any, right: Any) -> Any:
    whole = isinstance(left, int) and isinstance(right, int) and left and right
    if whole and _digits(left) + _digits(right) - 1 > MAX_DIGITS:
        raise ToolError(f"the product would have more than {MAX_DIGITS} digits; refused")
    return left * right


def _short(value: Any) -> str:
    """A number as a message shows it: a long one by its digit count."""
    if isinstance(value, int) and _digits(value) > 20:
        return f"<a {_digits(value)}-digit number>"
    return repr(value)


def _in_range(name: str, what: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, int) and not low <= value <= high:
        raise ToolError(f"{name}: {what} {_short(value)} is outside {low}..{high}")


def _lcm(*args: Any) -> Any:
    """lcm one pair at a time, each step's size checked (the product of all could be huge)."""
    result: Any = 1
    for arg in args:
        result = _check_size(math.lcm(result, arg))
    return result


def _call(name: str, args: list[Any]) -> Any:
    """Every integer argument is bounded before the function runs."""
    if name in ("factorial", "comb", "perm"):
        for index, arg in enumerate(args):
            _in_range(name, f"argument {index + 1}", arg, 0, MAX_FACTORIAL)
    if name == "round" and len(args) == 2:
        _in_range(name, "ndigits", args[1], -MAX_DIGITS, MAX_DIGITS)
    if name == "lcm" and all(isinstance(a, int) for a in args):
        return _lcm(*args)
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
        if isinstance(node.op, ast.Mult):
            return _check_size(_multiply(left, right))
        return _check_size(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand))
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        raise ToolError(f"the operator {_operator(node)} is not allowed; use + - * / // % **")
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


def _operator(node: ast.BinOp | ast.UnaryOp) -> str:
    return _SYMBOLS.get(type(node.op), type(node.op).__name__)


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


def calculator(expression: str, context: ToolContext) -> int | float:
    """Evaluate an arithmetic expression exactly as written.

    Supports + - * / // % ** (or ^), parentheses, the constants pi, e, tau and the functions
    sqrt, log, log10, exp, sin, cos, tan, floor, ceil, round, abs, min, max, factorial and
    more from Python's math module.

    Args:
        expression: the expression, e.g. "(17 + 5) * 3 / sqrt(2)"
    """
    value: int | float = worker.run(
        EVALUATE, expression, timeout_s=TIMEOUT_S, cancel=context.cancel, what="the calculation"
    )
    return value


def _build(settings: Mapping[str, Any], workspace: Path) -> Tool:
    # The worker is killed at TIMEOUT_S; the registry's own limit is only a backstop.
    return Tool.from_function(
        calculator,
        timeout_s=TIMEOUT_S + 5.0,
        written=written.static({"expression": {"pattern": EXPRESSION_PATTERN}}),
        hint='numbers and operators only, e.g. "2 ** 20", "15 / 100 * 240", "3 * 60 * 60"',
    )


SPEC = BuiltinSpec(
    name="calculator",
    description="Evaluates arithmetic expressions safely (numbers, operators, math functions).",
    factory=_build,
)
