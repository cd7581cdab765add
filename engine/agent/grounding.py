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
from dataclasses import dataclass
from typing import Any

#: Most values offered as alternatives, and the longest one.
MAX_VALUES = 48
VALUE_CHARS = 100
LEAD_CHARS = 80
TAIL_CHARS = 60

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
_KEYED = re.compile(r"^\s*[-*#\d.)\s]*([^:=]{1,40})\s*[:=]\s*(.+?)\s*$")


#: Values that hold digits but are one thing: a time, a date, a code like B12 or 555-0142.
_TOKEN = re.compile(
    r"\b(?:\d{1,2}:\d{2}(?::\d{2})?|\d{4}-\d{2}-\d{2}|\d+(?:-\d+)+|[A-Za-z]+\d+[A-Za-z\d]*)\b"
)


def _numbers(text: str) -> list[str]:
    """Times, dates and codes in the text, its numbers, and a float's rounded forms
    (37.7777 -> 37.78, 37.8, 38)."""
    out: list[str] = [m.group(0) for m in _TOKEN.finditer(text)]
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


def _found(text: str) -> list[str]:
    """Candidate values of one text: JSON scalars, lines, `key: value` values, numbers."""
    found: list[str] = []
    text = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict | list):
        for scalar in _scalars(data):
            found += [scalar, *_numbers(scalar)]
            if "\n" in scalar:
                found += _found(scalar)
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
    return [v.strip().strip("'\"`").strip() for v in found]


def values(
    observation: str, arguments: dict[str, Any] | None = None, recalled: list[str] | None = None
) -> list[str]:
    """The values an answer may quote: JSON scalars, lines, the value part of
    `key: value` / `key = value` lines, and numbers of the observation; unique, bounded, in
    order. A value that only echoes the call's own text arguments (a search's "no line
    contains '...'", a number of the query) is left out: it is what the model asked, not
    what the tool found. Memory recalled into the prompt counts too: the `recalled` texts
    add their values (nothing in them is an echo)."""
    asked = [str(v).lower() for v in (arguments or {}).values() if isinstance(v, str)]
    asked = [a for a in asked if a.strip()]
    found = _found(observation)

    def wraps_echo(value: str) -> bool:  # "no line contains 'wifi'": fixed words + the ask
        for a in asked:
            if a in value:
                rest = value.replace(a, " ")
                return not re.search(r"\d", rest) and len(rest.split()) <= 4
        return False

    # The parts of the observation that say more than the call asked.
    sources = [
        f.lower()
        for f in found
        if not any(f.lower() in a for a in asked) and not wraps_echo(f.lower())
    ]
    told = [v for v in found if any(v.lower() in s for s in sources)]
    out: list[str] = []
    for value in told + [v for text in recalled or [] for v in _found(text)]:
        if not value or len(value) > VALUE_CHARS or "\n" in value or value in out:
            continue
        out.append(value)
        if len(out) >= MAX_VALUES:
            break
    return out


_META = set("\\.+*?()|[]{}^$#&-~/")


def _escape(text: str) -> str:
    """A literal for a Rust regex inside a Lark /.../ terminal."""
    return "".join("\\" + c if c in _META else c for c in text)


def given(task: str) -> list[str]:
    """The numbers the task itself states: an answer may repeat them around its value
    ("2 to the power of 20 is ...")."""
    out: list[str] = []
    for match in _NUMBER.finditer(task):
        number = match.group(0).lstrip("-")
        if number not in out and len(out) < MAX_GIVEN:
            out.append(number)
    return out


#: Most of the task's numbers an answer may repeat, and how many times in all.
MAX_GIVEN = 8
GIVEN_REPEATS = 3


def _words(chars: int, given: list[str]) -> str:
    """Text without digits, except the task's own numbers (each followed by a non-digit,
    so that two never run into a new number, nor one into the value's digits)."""
    if not given:
        return f"[^\\n0-9]{{0,{chars}}}"
    numbers = "|".join(_escape(n) for n in sorted(given, key=len, reverse=True))
    part = chars // (GIVEN_REPEATS + 1)
    return f"[^\\n0-9]{{0,{part}}}(?:(?:{numbers})[^\\n0-9]{{1,{part}}}){{0,{GIVEN_REPEATS}}}"


#: Most values one answer may quote, and the longest text between two of them.
MAX_QUOTED = 3
BETWEEN_CHARS = 30


@dataclass(frozen=True)
class AnswerForm:
    """What a grounded final answer may be: `prefix` word for word, then text matching
    `pattern` (a regex that Rust's regex crate, inside the grammar, and Python's `re`,
    for checking an answer written without the grammar, read alike)."""

    prefix: str
    pattern: str

    def rule(self, label: str) -> str:
        """The Lark rule body (`final: ...`): one terminal after the literal, so the
        lead-in, the values and the tail are never split ambiguously by the lexer."""
        head = json.dumps(f"{label}: {self.prefix}")
        return f"{head} /{self.pattern}/ " + json.dumps("\n")

    def accepts(self, answer: str) -> bool:
        """Could the grammar have written this answer (the text after the label)?"""
        if not answer.startswith(self.prefix):
            return False
        return re.fullmatch(self.pattern, answer[len(self.prefix) :]) is not None


def answer_form(observed: list[str], given: list[str] | None = None, tool: str = "") -> AnswerForm:
    """A grounded answer quotes one to MAX_QUOTED values ("3 June", "09:40", "B12") joined
    by short text without digits; the lead-in may repeat the task's own numbers
    (`given`); the tail has no digits, so the answer's last number is always one the
    tools returned. When nothing is quotable (a search that found nothing), the answer
    has no digits but the task's. (Forcing it to say "The <tool> tool found nothing" made
    a notekeeper run that searched instead of saving store an answer without the fact.)"""
    if not observed:  # nothing to quote: no number may be made up either
        return AnswerForm("", "[^\\n0-9]" + _words(LEAD_CHARS + TAIL_CHARS, list(given or [])))
    lead = _words(LEAD_CHARS, list(given or []))
    choices = "|".join(_escape(v) for v in sorted(observed, key=len, reverse=True))
    more = f"(?:[^\\n0-9]{{1,{BETWEEN_CHARS}}}(?:{choices})){{0,{MAX_QUOTED - 1}}}"
    return AnswerForm("", f"{lead}(?:{choices}){more}[^\\n0-9]{{0,{TAIL_CHARS}}}")


def answer_rule(
    label: str, observed: list[str], given: list[str] | None = None, tool: str = ""
) -> str:
    """The Lark rule body of a grounded final answer (see `answer_form`)."""
    return answer_form(observed, given, tool).rule(label)


def failed_rule(label: str, tool: str) -> str:
    """A final answer after the retries ran out: it says the tool failed."""
    head = json.dumps(f"{label}: The {tool} tool failed: ")
    return f"{head} /[^\\n]{{1,{LEAD_CHARS + TAIL_CHARS}}}/ " + json.dumps("\n")
