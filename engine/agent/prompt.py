"""Prompt assembly: the system prompt from the agent's parts, and its live preview.

Sections come in the order of an agent core: goals, tool catalogue, planning, relevant
memory, persona. Each is a Jinja template in engine/resources/prompts/agent/; the short turns
the loop adds (observations, plan requests, ...) are in turns.yaml there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import yaml

from engine.agent import shots
from engine.agent.grammar import dump_arguments
from engine.agent.hooks import MemoryItem
from engine.agent.spec import AgentSpec, Example
from engine.paths import resource
from engine.tools.base import Tool

PROMPTS = resource("prompts", "agent")
SECTIONS = ("goals", "tools", "planning", "memory", "persona")


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPTS),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


@functools.lru_cache(maxsize=1)
def turns() -> dict[str, str]:
    """The loop's short messages (engine/resources/prompts/agent/turns.yaml)."""
    data = yaml.safe_load((PROMPTS / "turns.yaml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def _render(template: str, **values: Any) -> str:
    return _env().get_template(template).render(**values).strip()


def sections(
    spec: AgentSpec, tools: Sequence[Tool], memory: Sequence[MemoryItem] = ()
) -> dict[str, str]:
    """Each section's text (empty when the agent has nothing for it)."""
    p = spec.planning
    return {
        "goals": _render(
            "goals.jinja", name=spec.name, description=spec.description, goals=spec.goals
        ),
        "tools": _render("tools.jinja", tools=[t.manual() for t in tools if t.approval != "deny"]),
        "planning": _render(
            f"planning_{p.strategy}.jinja", thoughts=p.thoughts, max_plan_steps=p.max_plan_steps
        ),
        "memory": memory_section(memory),
        "persona": _render("persona.jinja", persona=spec.persona),
    }


def memory_section(memory: Sequence[MemoryItem]) -> str:
    """The "Relevant memory" section for these items (empty for none)."""
    return _render("memory.jinja", hits=list(memory))


def system_prompt(spec: AgentSpec, tools: Sequence[Tool], memory: Sequence[MemoryItem] = ()) -> str:
    return "\n\n".join(text for text in sections(spec, tools, memory).values() if text)


def example_messages(examples: Sequence[Example], final_label: str) -> list[dict[str, str]]:
    """Worked examples as a conversation (few-shot for base models)."""
    messages: list[dict[str, str]] = []
    for example in examples:
        if example.plan:
            messages.extend(_plan_example(example))
            continue
        messages.append({"role": "user", "content": example.task})
        for step in example.steps:
            head = f"Thought: {step.thought}\n" if step.thought else ""
            messages.append(
                {
                    "role": "assistant",
                    "content": f"{head}Action: {step.tool}\n"
                    f"Action Input: {dump_arguments(step.arguments)}",
                }
            )
            messages.append({"role": "tool", "content": step.observation})
        messages.append({"role": "assistant", "content": f"{final_label}: {example.answer}"})
    return messages


def _plan_example(example: Example) -> list[dict[str, str]]:
    """A plan_execute example: the task, its plan, and the answer."""
    numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(example.plan, 1))
    return [
        {"role": "user", "content": f"{example.task}\n{turns()['plan_request']}"},
        {"role": "assistant", "content": f"Plan:\n{numbered}"},
        {"role": "user", "content": turns()["synthesize"].format(task=example.task)},
        {"role": "assistant", "content": f"Final Answer: {example.answer}"},
    ]


@dataclass(frozen=True)
class Section:
    name: str
    text: str
    tokens: int


@dataclass(frozen=True)
class PromptPreview:
    """The assembled system prompt and what each part costs against the context window."""

    text: str
    sections: tuple[Section, ...]
    examples_tokens: int
    total_tokens: int
    context_length: int | None
    estimated: bool  # True: counted without the model's tokenizer (about 4 characters a token)
    #: What the step grammar enforces beyond the prompt (no tokens: it masks, not tells).
    enforced: tuple[str, ...] = ()
    #: The chat template's own tokens (turn markers, headers, <bos>) when the whole prompt
    #: was counted in the model's format; 0 otherwise.
    format_tokens: int = 0

    @property
    def fraction(self) -> float | None:
        return self.total_tokens / self.context_length if self.context_length else None


def _estimate(text: str) -> int:
    return (len(text) + 3) // 4


def preview(
    spec: AgentSpec,
    tools: Sequence[Tool],
    memory: Sequence[MemoryItem] = (),
    *,
    count_tokens: Callable[[str], int] | None = None,
    context_length: int | None = None,
    count_prompt: Callable[[list[dict[str, str]]], int] | None = None,
) -> PromptPreview:
    """Fast enough to run on every keystroke; exact counts when `count_tokens` is given
    (e.g. `StepModel.count_tokens`), else an estimate. With `count_prompt` (the tokens of a
    conversation rendered in the model's chat format, engine.llm.chat.ChatFormat) the
    total is the first step's prompt as the model reads it, for an empty task."""
    count = count_tokens or _estimate
    parts = sections(spec, tools, memory)
    rows = tuple(Section(name, text, count(text) if text else 0) for name, text in parts.items())
    text = "\n\n".join(t for t in parts.values() if t)
    # With `examples: similar` a run shows `max_examples` of them, chosen per task: count
    # those an empty task gets (as the total is the first step's prompt for an empty task).
    shown = shots.chosen(spec.examples, "", spec.planning.examples, spec.planning.max_examples)
    shot_text = "\n".join(m["content"] for m in example_messages(shown, "Final Answer"))
    shot_tokens = count(shot_text) if shot_text else 0
    total = count(text) + shot_tokens
    format_tokens = 0
    if count_prompt is not None:
        opening = [
            {"role": "system", "content": text},
            *example_messages(shown, "Final Answer"),
            {"role": "user", "content": ""},
        ]
        exact = count_prompt(opening)
        format_tokens, total = max(0, exact - total), exact
    return PromptPreview(
        text,
        rows,
        shot_tokens,
        total,
        context_length,
        estimated=count_tokens is None,
        enforced=enforced(spec, tools),
        format_tokens=format_tokens,
    )


def enforced(spec: AgentSpec, tools: Sequence[Tool]) -> tuple[str, ...]:
    """One line per rule the step grammar applies to this agent's steps: argument
    grammars, the retry policy, grounded answers, a required first tool call."""
    p = spec.planning
    lines: list[str] = []
    for tool in tools:
        if tool.approval == "deny":
            continue
        for name, keywords in tool.grammar_schema().get("properties", {}).items():
            if "enum" in keywords:
                shown = ", ".join(str(v) for v in keywords["enum"][:4])
                more = f" (+{len(keywords['enum']) - 4} more)" if len(keywords["enum"]) > 4 else ""
                lines.append(f"{tool.name}.{name} is one of: {shown}{more}")
            elif "pattern" in keywords:
                lines.append(f"{tool.name}.{name} must match its pattern")
    if tools and p.tool_choice == "required":
        lines.append("the first step must call a tool")
    if tools and p.retries_after_error:
        lines.append(
            f"after a tool error: up to {p.retries_after_error} more tool call(s) before an "
            "answer, which then says the tool failed"
        )
    if tools and p.answer in ("grounded", "vote"):
        lines.append(
            "final answer after a tool call: quotes a value the tools returned (its last "
            "number is one of theirs)"
        )
    if p.answer == "vote":
        lines.append(
            f"final answer: the majority of {p.votes} candidates (1 greedy, "
            f"{p.votes - 1} sampled): about {p.votes}x the final step's time"
        )
    return tuple(lines)
