"""Prompt assembly order and the live preview."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.agent.hooks import MemoryItem
from engine.agent.prompt import SECTIONS, example_messages, preview, system_prompt
from engine.agent.spec import Example, ExampleStep
from engine.tools.base import ToolRegistry
from tests.helpers.agent_spec import make_spec


def test_sections_come_in_agent_core_order(registry: ToolRegistry) -> None:
    spec = replace(make_spec(), persona="Cheerful.", goals=("First goal.", "Second goal."))
    text = system_prompt(spec, registry.callable_tools(), [MemoryItem("The sky was blue.")])
    marks = [
        "1. First goal.",
        "add: Add two integers.",
        "How you work",
        "The sky was blue.",
        "Cheerful.",
    ]
    positions = [text.index(m) for m in marks]
    assert positions == sorted(positions)
    assert "2. Second goal." in text
    assert "  - a (integer, required): first number" in text


def test_strategies_explain_themselves(registry: ToolRegistry) -> None:
    tools = registry.callable_tools()
    assert "numbered plan" in system_prompt(make_spec(strategy="plan_execute"), tools)
    assert "check your answer" in system_prompt(make_spec(strategy="reflect"), tools)
    assert "Thought:" not in system_prompt(make_spec(thoughts=False), tools)


def test_preview_counts_each_section(registry: ToolRegistry) -> None:
    example = Example("2+2?", "4", (ExampleStep("add", {"a": 2, "b": 2}, "4"),))
    spec = replace(make_spec(), examples=(example,))
    words = preview(
        spec, registry.callable_tools(), count_tokens=lambda t: len(t.split()), context_length=1000
    )
    assert [s.name for s in words.sections] == list(SECTIONS)
    assert not words.estimated and words.context_length == 1000
    goals = words.sections[0]
    assert goals.tokens == len(goals.text.split())
    assert words.sections[3].tokens == 0  # no memory
    assert words.examples_tokens > 0
    assert words.total_tokens == len(words.text.split()) + words.examples_tokens
    assert words.fraction is not None and 0 < words.fraction < 1
    rough = preview(spec, [])
    assert rough.estimated and rough.context_length is None and rough.fraction is None
    assert "no tools" in rough.sections[1].text


def test_plan_examples_show_a_plan_then_the_answer() -> None:
    from engine.agent.prompt import example_messages

    messages = example_messages([Example("Count to 2.", "1, 2", plan=("say 1", "say 2"))], "Result")
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"].startswith("Count to 2.\nWrite the plan")
    assert messages[1]["content"] == "Plan:\n1. say 1\n2. say 2"
    assert messages[3]["content"] == "Final Answer: 1, 2"


def test_preview_tools_need_no_running_tools(tmp_path: Path) -> None:
    from engine.agent.agentfile import parse
    from engine.agent.launch import preview_tools

    agent = parse(
        "schema_version: 1\nname: x\ngoals: [a]\ntools:\n  - name: calculator\n"
        "  - name: files.write\n    approval: deny\n  - name: memory.search\n"
        "  - name: echo\n    kind: command\n    description: Echo a text.\n"
        "    parameters: {type: object, properties: {text: {type: string}}}\n    command: cat\n"
        "memory:\n  enabled: true\n"
    )
    tools = preview_tools(agent.spec, tmp_path)
    assert [t.name for t in tools] == ["calculator", "files.write", "echo"]
    shown = preview(agent.spec, tools)
    assert "echo: Echo a text." in shown.text and "files.write" not in shown.text


def test_preview_lists_what_the_grammar_enforces(tmp_path: Path) -> None:
    """Argument grammars, retries and grounded answers cost no prompt tokens: the preview
    lists them apart, and an edit of each shows at once."""
    from engine.agent.launch import preview_tools
    from engine.agent.templates import new_agent

    agent = new_agent("research", tmp_path / "r.agent.yaml")
    (agent.workspace / "extra.md").write_text("x\n")
    tools = preview_tools(agent.spec, agent.workspace)
    rules = preview(agent.spec, tools).enforced
    assert any(r.startswith("files.read.path is one of:") and "extra.md" in r for r in rules)
    assert any("up to 2 more tool call(s)" in r for r in rules)
    assert any(r.startswith("final answer after a tool call: quotes") for r in rules)
    free = replace(
        agent.spec,
        planning=replace(agent.spec.planning, answer="free", retries_after_error=0),
    )
    rules = preview(free, tools).enforced
    assert not any("quotes" in r or "tool error" in r for r in rules)
    assert preview(free, []).enforced == ()  # no tools: nothing to enforce


def test_preview_counts_the_whole_prompt_in_the_models_format(registry: ToolRegistry) -> None:
    """With the model's chat format, the total is the rendered first-step prompt (an empty
    task), and what the format adds is reported beside the sections."""
    example = Example("2+2?", "4", (ExampleStep("add", {"a": 2, "b": 2}, "4"),))
    spec = replace(make_spec(), examples=(example,))
    seen: list[list[dict[str, str]]] = []

    def count_prompt(messages: list[dict[str, str]]) -> int:
        seen.append(messages)
        return sum(len(m["content"].split()) + 4 for m in messages)  # 4 marker tokens a turn

    words = preview(
        spec,
        registry.callable_tools(),
        count_tokens=lambda t: len(t.split()),
        count_prompt=count_prompt,
    )
    (messages,) = seen
    assert messages[0] == {"role": "system", "content": words.text}
    assert messages[1:-1] == example_messages(spec.examples, "Final Answer")
    assert messages[-1] == {"role": "user", "content": ""}
    assert words.total_tokens == count_prompt(messages)
    assert words.format_tokens == 4 * len(messages)
