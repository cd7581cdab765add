"""The grammar of one agent step, built from the tool catalogue, and the step parser.

A step is text in the classic ReAct shape, one of::

    Thought: <free text>            (optional, when the strategy allows thoughts)
    Action: <tool name>
    Action Input: <JSON arguments valid for that tool's schema>

    Thought: <free text>
    Final Answer: <text>

The grammar (llguidance Lark, with `%json` for each tool's argument schema) makes the
model unable to write anything else; `parse_step` still checks every step, so a fake
model (or a broken grammar) yields an invalid step, never a crash.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.llm.constraints import Grammar
from engine.tools.base import Tool, ToolRegistry

THOUGHT_CHARS = 240
ANSWER_CHARS = 600
PLAN_ITEM_CHARS = 120
#: Characters of a step that are not free text: labels, tool name, JSON keys and quotes.
STEP_OVERHEAD = 64

#: JSON arguments are written compactly apart from one space after `:` and `,`.
_JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def dump_arguments(arguments: dict[str, Any]) -> str:
    """Arguments as the grammar writes them (for few-shot examples and transcripts)."""
    return json.dumps(arguments, ensure_ascii=False, separators=(", ", ": "))


def _lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _schema(tool: Tool, string_chars: int) -> str:
    """The tool's schema for the grammar: compact JSON, and text arguments no longer than
    `string_chars` each, so that a step always fits in its token allowance."""
    schema = tool.grammar_schema()
    props = schema.get("properties", {})
    texts = [p for p in props.values() if isinstance(p, dict) and p.get("type") == "string"]
    for prop in texts:
        if "enum" in prop or "const" in prop:
            continue  # its values are listed: a length limit could only exclude some
        limit = max(8, string_chars // len(texts))
        prop["maxLength"] = min(int(prop.get("maxLength", limit)), limit)
    schema["x-guidance"] = dict(_JSON_STYLE)
    return json.dumps(schema, ensure_ascii=False, sort_keys=True)


def step_grammar(
    tools: Sequence[Tool],
    *,
    thoughts: bool = True,
    allow_tool: bool = True,
    allow_final: bool = True,
    final_label: str = "Final Answer",
    max_tokens: int = 256,
    final_rule: str | None = None,
) -> Grammar:
    """The Lark grammar of one step for these tools (cached by its text).

    `final_rule` replaces the final answer's rule body (engine.agent.grounding: a grounded
    answer, or one that says the tool failed).

    Free text is bounded so that a whole step fits in `max_tokens` (a token is at least
    one character): of what the labels leave, a thought gets a quarter, the text
    arguments half, an answer all but the thought.
    """
    if not (allow_final or (allow_tool and tools)):
        raise ValueError("a step must allow a tool call or a final answer")
    free = max(32, max_tokens - STEP_OVERHEAD)
    thought_chars = max(8, min(THOUGHT_CHARS, free // 4))
    answer_chars = max(8, min(ANSWER_CHARS, free - thought_chars))
    rules = [
        'start: " "? body',
        f"thought: {_lit('Thought: ')} /[^\\n]{{1,{thought_chars}}}/ {_lit(chr(10))}",
    ]
    choices = []
    if allow_tool and tools:
        calls = []
        for i, tool in enumerate(tools):
            rules.append(
                f"call{i}: {_lit('Action: ' + tool.name + chr(10) + 'Action Input: ')} "
                f"args{i} {_lit(chr(10))}"
            )
            rules.append(f"args{i}: %json {_schema(tool, free // 2)}")
            calls.append(f"call{i}")
        rules.append("action: " + " | ".join(calls))
        choices.append("action")
    if allow_final:
        free_final = f"{_lit(final_label + ': ')} /[^\\n]{{1,{answer_chars}}}/ {_lit(chr(10))}"
        rules.append(f"final: {final_rule or free_final}")
        choices.append("final")
    body = " | ".join(choices)
    rules.insert(1, f"body: thought ({body}) | {body}" if thoughts else f"body: {body}")
    return _cached("\n".join(rules))


def plan_grammar(max_items: int) -> Grammar:
    """`Plan:` then 1..max_items numbered lines, then a blank line."""
    text = ""
    for n in range(max_items, 0, -1):
        item = f'"{n}. " /[^\\n]{{3,{PLAN_ITEM_CHARS}}}/ "\\n"'
        text = f'{item} "\\n"' if not text else f'{item} ({text} | "\\n")'
    return _cached(f'start: " "? "Plan:\\n" {text}')


def critique_grammar() -> Grammar:
    return _cached(
        'start: " "? "Critique: " /[^\\n]{1,240}/ "\\nLesson: " /[^\\n]{1,200}/ '
        '"\\nVerdict: " ("keep" | "revise") "\\n"'
    )


@functools.lru_cache(maxsize=64)
def _cached(text: str) -> Grammar:
    return Grammar.lark(text)


@dataclass(frozen=True)
class ParsedStep:
    """One step's output, read back: a tool call, a final answer, or invalid."""

    kind: str  # tool | final | invalid
    thought: str = ""
    tool: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    answer: str = ""
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.kind != "invalid"


_THOUGHT = re.compile(r"^Thought:[ \t]*(.*)$")
_ACTION = re.compile(r"^Action:[ \t]*(\S+)[ \t]*$")
_INPUT = re.compile(r"^Action Input:[ \t]*(.*)$", re.DOTALL)


def parse_step(
    text: str,
    registry: ToolRegistry,
    *,
    allow_tool: bool = True,
    allow_final: bool = True,
    final_label: str = "Final Answer",
) -> ParsedStep:
    """Read a step and check it against the catalogue: the tool exists, its arguments are
    valid for its schema, and the kind of step is one this step allowed."""
    lines = text.strip().split("\n")
    thought = ""
    match = _THOUGHT.match(lines[0]) if lines else None
    if match:
        thought = match.group(1).strip()
        lines = lines[1:]
    head = lines[0] if lines else ""
    if head.startswith(final_label + ":"):
        answer = "\n".join([head[len(final_label) + 1 :], *lines[1:]]).strip()
        if not allow_final:
            return _invalid(thought, "a final answer is not allowed at this step; call a tool")
        if not answer:
            return _invalid(thought, f"the {final_label.lower()} is empty")
        return ParsedStep("final", thought, answer=answer)
    action = _ACTION.match(head)
    if not action:
        expected = f"'Action: <tool>' or '{final_label}: <text>'"
        return _invalid(thought, f"expected {expected}, got {head[:60]!r}")
    name = action.group(1)
    rest = "\n".join(lines[1:])
    given = _INPUT.match(rest)
    if not given:
        return _invalid(thought, "missing 'Action Input: {...}' after the action", name)
    try:
        arguments = json.loads(given.group(1).strip())
    except json.JSONDecodeError as exc:
        return _invalid(thought, f"Action Input is not valid JSON: {exc.msg}", name)
    args = arguments if isinstance(arguments, dict) else {}
    tool = registry.get(name)
    if tool is not None and tool.approval == "deny":
        problems = [f"the tool {name!r} is not allowed for this agent"]
    elif not allow_tool:
        problems = ["no tool call is allowed at this step; give the final answer"]
    else:
        problems = registry.validate(name, arguments)
    if problems:
        return ParsedStep("invalid", thought, name, args, problems=tuple(problems))
    return ParsedStep("tool", thought, name, args)


def _invalid(thought: str, problem: str, tool: str = "") -> ParsedStep:
    return ParsedStep("invalid", thought, tool, problems=(problem,))


def parse_plan(text: str) -> list[str]:
    items = []
    for line in text.strip().split("\n"):
        match = re.match(r"^\s*\d+[.)]\s*(.+)$", line)
        if match:
            items.append(match.group(1).strip())
    return items


def parse_critique(text: str) -> tuple[str, str, str]:
    """(critique, lesson, verdict) of a critique pass; verdict keep when unreadable."""
    found = {"Critique": "", "Lesson": "", "Verdict": ""}
    for line in text.strip().split("\n"):
        key, _, value = line.partition(":")
        if key.strip() in found:
            found[key.strip()] = value.strip()
    verdict = "revise" if found["Verdict"].lower().startswith("revise") else "keep"
    return found["Critique"], found["Lesson"], verdict
