"""Worked examples chosen per task (`planning.examples: similar`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.agent.prompt import preview
from engine.agent.run import AgentRun
from engine.agent.shots import chosen, similarity, words
from engine.agent.spec import Example, ExampleStep
from engine.tools.base import ToolRegistry
from tests.helpers.agent_spec import make_spec
from tests.helpers.fake_model import ScriptedModel, final


def _example(task: str) -> Example:
    step = ExampleStep(thought="t", tool="add", arguments={"a": 1, "b": 2}, observation="3")
    return Example(task=task, steps=(step,), answer="3")


EXAMPLES = (
    _example("What is 12 times 7, plus 5?"),
    _example("What is 5 to the power of 4?"),
    _example("What is 30 percent of 70?"),
    _example("How many seconds are in 2 hours?"),
    _example("How many metres are in 3 kilometres?"),
)


def test_words_drop_numbers_and_plurals() -> None:
    assert words("How many seconds are in 2 hours?") == {
        "how",
        "many",
        "second",
        "are",
        "in",
        "hour",
    }


def test_the_most_similar_example_comes_last() -> None:
    shown = chosen(EXAMPLES, "What is 3 to the power of 5?", "similar", 3)
    assert len(shown) == 3 and shown[-1].task == "What is 5 to the power of 4?"
    shown = chosen(EXAMPLES, "How many minutes are in 4 hours?", "similar", 2)
    assert shown[-1].task == "How many seconds are in 2 hours?"
    shown = chosen(EXAMPLES, "How many centimetres are in 2 metres?", "similar", 2)
    assert shown[-1].task == "How many metres are in 3 kilometres?"


def test_rare_words_weigh_more_than_common_ones() -> None:
    scores = similarity(EXAMPLES, "What is 20 percent of 80?")
    assert scores.index(max(scores)) == 2  # "percent" is in one task, "what" in three


def test_all_keeps_the_written_order_and_ties_keep_it_too() -> None:
    assert chosen(EXAMPLES, "What is 3 to the power of 5?", "all", 2) == EXAMPLES
    # nothing in common with any example: the first `limit` as written, first one last
    shown = chosen(EXAMPLES, "Zzz?", "similar", 2)
    assert shown == (EXAMPLES[1], EXAMPLES[0])
    assert chosen((), "task", "similar", 3) == ()


def test_a_run_shows_the_chosen_examples(registry: ToolRegistry, workspace: Path) -> None:
    spec = replace(make_spec(examples="similar", max_examples=2), examples=EXAMPLES)
    model = ScriptedModel([final("243")])
    events = list(
        AgentRun(
            spec,
            model,
            registry,
            "What is 3 to the power of 5?",
            workspace=workspace,
            transcript=False,
        )
    )
    assert events[-1].final_answer == "243"
    prompt = model.prompts[0]
    assert prompt.count("Final Answer: 3") == 2  # two examples shown
    task = prompt.rindex("What is 3 to the power of 5?")
    assert prompt.rindex("What is 5 to the power of 4?") < task
    assert "30 percent of 70" in prompt and "in 2 hours" not in prompt and "12 times" not in prompt


def test_preview_counts_what_a_run_may_show(registry: ToolRegistry) -> None:
    every = preview(replace(make_spec(), examples=EXAMPLES), list(registry))
    some = preview(
        replace(make_spec(examples="similar", max_examples=2), examples=EXAMPLES),
        list(registry),
    )
    assert 0 < some.examples_tokens < every.examples_tokens
