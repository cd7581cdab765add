"""The step grammar accepts exactly the steps the parser accepts (byte-level tokenizer)."""

from __future__ import annotations

import pytest

from engine.agent.grammar import (
    critique_grammar,
    parse_critique,
    parse_plan,
    parse_step,
    plan_grammar,
    step_grammar,
)
from engine.tools.base import ToolRegistry
from tests.helpers.grammar import accepts

VALID = [
    ' Action: add\nAction Input: {"a": 2, "b": 3}\n',
    'Thought: add them\nAction: add\nAction Input: {"a": -2, "b": 3}\n',
    " Thought: done\nFinal Answer: it is 5\n",
    ' Action: boom\nAction Input: {"text": "a \\"quoted\\" word"}\n',
]
INVALID = [
    ' Action: multiply\nAction Input: {"a": 2}\n',  # unknown tool
    ' Action: add\nAction Input: {"a": "2", "b": 3}\n',  # wrong type
    ' Action: add\nAction Input: {"a": 2}\n',  # missing required
    ' Action: add\nAction Input: {"a": 2, "b": 3, "c": 4}\n',  # extra argument
    " The answer is 5\n",  # free text
    " Final Answer: \n",  # empty answer
]


@pytest.mark.parametrize("text", VALID)
def test_valid_steps_pass_grammar_and_parser(registry: ToolRegistry, text: str) -> None:
    assert accepts(step_grammar(registry.callable_tools()), text)
    assert parse_step(text, registry).valid


#: Well-formed calls the grammar still never produces (the parser reads them anyway).
STRICTER = [
    ' Action: add\nAction Input: {"a": 2,\n"b": 3}\n',  # JSON over two lines
    ' Action: add\nAction Input: {"b": 3, "a": 2}\n',  # properties out of schema order
    ' Action: add\nAction Input: {"a":2,"b":3}\n',  # separators without their space
]


@pytest.mark.parametrize("text", STRICTER)
def test_the_grammar_writes_one_canonical_form(registry: ToolRegistry, text: str) -> None:
    assert not accepts(step_grammar(registry.callable_tools()), text)
    assert parse_step(text, registry).valid


@pytest.mark.parametrize("text", INVALID)
def test_invalid_steps_fail_grammar_and_parser(registry: ToolRegistry, text: str) -> None:
    assert not accepts(step_grammar(registry.callable_tools()), text)
    assert not parse_step(text, registry).valid


def test_step_kinds_can_be_switched_off(registry: ToolRegistry) -> None:
    tools = registry.callable_tools()
    answer_only = step_grammar(tools, allow_tool=False)
    assert accepts(answer_only, " Final Answer: 5\n")
    assert not accepts(answer_only, ' Action: add\nAction Input: {"a": 1, "b": 1}\n')
    tool_only = step_grammar(tools, allow_final=False, thoughts=False)
    assert not accepts(tool_only, " Final Answer: 5\n")
    assert not accepts(tool_only, ' Thought: x\nAction: add\nAction Input: {"a": 1, "b": 1}\n')
    assert accepts(tool_only, ' Action: add\nAction Input: {"a": 1, "b": 1}\n')
    result = step_grammar(tools, final_label="Result")
    assert accepts(result, " Result: found it\n") and not accepts(result, " Final Answer: x\n")
    with pytest.raises(ValueError, match="must allow"):
        step_grammar([], allow_final=False)


def test_plan_and_critique_grammars() -> None:
    plan = plan_grammar(3)
    assert accepts(plan, " Plan:\n1. find the file\n2. read it\n\n")
    assert not accepts(plan, " Plan:\n1. a\n2. b\n3. c\n4. d\n\n")  # at most 3
    assert not accepts(plan, " Plan:\n2. skip one\n\n")
    assert parse_plan("Plan:\n1. find the file\n2) read it\nnoise") == ["find the file", "read it"]
    critique = critique_grammar()
    text = " Critique: fine\nLesson: check units\nVerdict: keep\n"
    assert accepts(critique, text)
    assert not accepts(critique, " Critique: fine\nLesson: x\nVerdict: maybe\n")
    assert parse_critique(text) == ("fine", "check units", "keep")
    assert parse_critique("garbage")[2] == "keep"
