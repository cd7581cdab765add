"""Per-step memory for the run loop: the query, the token budget, the prompt note.

Before each step the loop asks the `retrieve` hook with the task plus the latest
observation or subtask, keeps the best items that fit `memory.token_budget` (counted with
the model's own tokenizer) and shows them at the start of the last message (the task,
the latest observation or subtask), for that one generation only. The system prompt and
every earlier turn stay byte-identical from step to step, so the engine's KV cache of
that prefix is reused (measured: docs/agents.md, "Memory in the loop").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from engine.agent.hooks import MemoryItem
from engine.agent.model import Message
from engine.agent.prompt import memory_section
from engine.agent.spec import MemorySpec

#: How much of the latest observation joins the task in the retrieval query.
QUERY_CHARS = 400


def step_query(task: str, messages: Sequence[Message]) -> str:
    """The task, plus the latest observation or subtask when there is one."""
    last = messages[-1]["content"].strip() if messages else ""
    if not last or last.startswith(task.strip()):
        return task
    return f"{task}\n{last[:QUERY_CHARS]}"


def fit(
    items: Sequence[MemoryItem], budget: int, count: Callable[[str], int]
) -> tuple[list[MemoryItem], int]:
    """The items, best first, whose rendered section stays within `budget` tokens, and
    the section's tokens. An item too long for what is left is skipped; a shorter one
    further down may still fit."""
    chosen: list[MemoryItem] = []
    used = 0
    for item in items:
        tokens = count(memory_section([*chosen, item]))
        if tokens > budget:
            continue
        chosen.append(replace(item, tokens=count(f"- {item.text}")))
        used = tokens
    return chosen, used


def with_note(messages: Sequence[Message], note: str) -> list[Message]:
    """The conversation with `note` before the last message's text (for one generation)."""
    out = list(messages)
    if note and out:
        out[-1] = {**out[-1], "content": f"{note}\n\n{out[-1]['content']}"}
    return out


def summary(items: Sequence[MemoryItem], used: int, memory: MemorySpec) -> dict[str, Any]:
    """The MemoryHit fields for these items (besides the query)."""
    return {
        "text": "\n".join(m.text for m in items),
        "score": items[0].score,
        "source": ", ".join(sorted({m.kind or m.source for m in items} - {""})),
        "items": tuple(items),
        "token_budget": memory.token_budget,
        "tokens_used": used,
    }
