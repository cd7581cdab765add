"""Grounded final answers: the values an observation holds, and the answer grammar.

With `planning.answer: grounded`, a final answer given after a successful tool call is
written as: a lead-in without digits, then one of the last observation's values as a
literal, then a tail without digits (all bounded). So a number in the answer is a number
the tool returned, and a read file's line or value appears as it was read.

What it cannot catch: the model may pick the wrong one of the observation's values (the
wrong line of a file, an intermediate result); words around the value may still be wrong
("the port is not 8080"); an answer that needs a further computation on top of the value
is forced to quote the value instead; and an observation that does not hold the answer
(a search with no hit) still gets one of its values quoted; when it holds no value at all
(only an echo of the call), the answer may hold no digit.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Most values offered as alternatives, and the longest one.
MAX_VALUES = 48
VALUE_CHARS = 100
LEAD_CHARS = 80
TAIL_CHARS = 60

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
_KEYED = re.compile(r"^\s*[-*#\d.)\s]*([^:=]{1,40})\s*[:=]\s*(.+?)\s*$")


def _numbers(text: str) -> list[str]:
    """Numbers in the text, and a float's rounded forms (37.7777 -> 37.78, 37.8, 38)."""
    out: list[str] = []
    for match in _NUMBER.finditer(text):
        raw = match.group(0)
        out.append(raw)
        if re.fullmatch(r"-?\d+\.\d{3,}", raw):
            value = float(raw)
            out += [f"{value:.2f}", f"{value:.1f}", str(round(value))]
        if re.fullmatch(r"-?\d+\.0", raw):
            out.append(raw[:-2])
    return out


def _scalars(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [s for v in data.values() for s in _scalars(v)]
    if isinstance(data, list):
        return [s for v in data for s in _scalars(v)]
    if isinstance(data, bool) or data is None:
        return []
    return [str(data)]


def values(observation: str, arguments: dict[str, Any] | None = None) -> list[str]:
    """The values an answer may quote from an observation: JSON scalars, lines, the value
    part of `key: value` / `key = value` lines, and numbers; unique, bounded, in order.
    A value that only echoes the call's own text arguments (a search's "no line contains
    '...'") is left out: it is what the model asked, not what the tool found."""
    asked = [str(v) for v in (arguments or {}).values() if isinstance(v, str) and v.strip()]
    found: list[str] = []
    text = observation.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict | list):
        for scalar in _scalars(data):
            found += [scalar, *_numbers(scalar)]
    elif isinstance(data, int | float) and not isinstance(data, bool):
        found += _numbers(text) or [text]
    else:
        for line in text.splitlines():
            line = line.strip().strip("-*#").strip()
            if not line:
                continue
            keyed = _KEYED.match(line)
            if keyed:
                found.append(keyed.group(2))
            found.append(line)
            found += _numbers(line)
    out: list[str] = []
    for value in found:
        value = value.strip().strip("'\"`").strip()
        echo = any(value in a or a in value for a in asked)
        if value and len(value) <= VALUE_CHARS and "\n" not in value and value not in out:
            if echo:
                continue
            out.append(value)
        if len(out) >= MAX_VALUES:
            break
    return out


_META = set("\\.+*?()|[]{}^$#&-~/")


def _escape(text: str) -> str:
    """A literal for a Rust regex inside a Lark /.../ terminal."""
    return "".join("\\" + c if c in _META else c for c in text)


def answer_rule(label: str, observed: list[str]) -> str:
    """The Lark rule body of a grounded final answer (`final: ...`): one terminal, so the
    lead-in, the value and the tail are never split ambiguously by the lexer."""
    if not observed:  # the tool found nothing to quote: no number may be made up either
        return (
            f"{json.dumps(label + ': ')} /[^\\n0-9]{{1,{LEAD_CHARS + TAIL_CHARS}}}/ "
            + json.dumps("\n")
        )
    choices = "|".join(_escape(v) for v in sorted(observed, key=len, reverse=True))
    text = f"[^\\n0-9]{{0,{LEAD_CHARS}}}(?:{choices})[^\\n0-9]{{0,{TAIL_CHARS}}}"
    return f"{json.dumps(label + ': ')} /{text}/ " + json.dumps("\n")


def failed_rule(label: str, tool: str) -> str:
    """A final answer after the retries ran out: it says the tool failed."""
    head = json.dumps(f"{label}: The {tool} tool failed: ")
    return f"{head} /[^\\n]{{1,{LEAD_CHARS + TAIL_CHARS}}}/ " + json.dumps("\n")
