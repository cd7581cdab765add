"""The places where a person, the window or the memory store step into a run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.tools.base import BeforeCall


@dataclass(frozen=True)
class MemoryItem:
    """One retrieved memory: its text, a relevance score and where it came from."""

    text: str
    score: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class Lesson:
    """What a reflect pass learned, for long-term memory."""

    agent: str
    task: str
    answer: str
    critique: str
    lesson: str


@dataclass(frozen=True)
class RunRecord:
    """A finished run, for the after-run hook (history in long-term memory)."""

    run_id: str
    agent: str
    task: str
    final_answer: str | None
    stop_reason: str
    steps: tuple[dict[str, Any], ...] = ()


#: query, top_k -> the most relevant memories.
Retrieve = Callable[[str, int], Sequence[MemoryItem]]
#: the proposed plan -> the plan to execute (None keeps it; an empty list cancels the run).
EditPlan = Callable[[Sequence[str]], "Sequence[str] | None"]


@dataclass(frozen=True)
class RunHooks:
    """All optional; the defaults ask nobody and remember nothing.

    before_call: approval of `ask` tools (True runs the call; False or a reason refuses).
    edit_plan: see `EditPlan`. retrieve: memory lookup before the first step.
    lesson: receives each reflection's lesson. after_run: receives the finished run.
    """

    before_call: BeforeCall | None = None
    edit_plan: EditPlan | None = None
    retrieve: Retrieve | None = None
    lesson: Callable[[Lesson], None] | None = None
    after_run: Callable[[RunRecord], None] | None = None
