"""The places where a person, the window or the memory store step into a run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.tools.base import BeforeCall


@dataclass(frozen=True)
class MemoryItem:
    """One retrieved memory: its text, its final score and where it came from.

    From the memory store also: the item's id and kind, the parts of the score
    (relevance = cosine, recency bonus, pinned bonus) and its tokens in the prompt.
    """

    text: str
    score: float = 0.0
    source: str = ""
    id: int | None = None
    kind: str = ""
    relevance: float = 0.0
    recency: float = 0.0
    pinned_bonus: float = 0.0
    tokens: int = 0


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


#: query, top_k -> the most relevant memories, best first (called before every step).
Retrieve = Callable[[str, int], Sequence[MemoryItem]]
#: the proposed plan -> the plan to execute (None keeps it; an empty list cancels the run).
EditPlan = Callable[[Sequence[str]], "Sequence[str] | None"]


@dataclass(frozen=True)
class RunHooks:
    """All optional; the defaults ask nobody and remember nothing.

    before_call: approval of `ask` tools (True runs the call; False or a reason refuses).
    edit_plan: see `EditPlan`. retrieve: memory lookup before each step (query: the
    task plus the latest observation or subtask). lesson: receives each reflection's
    lesson. after_run: receives the finished run. observe: sees every event as it is
    yielded (the memory's scratchpad).
    """

    before_call: BeforeCall | None = None
    edit_plan: EditPlan | None = None
    retrieve: Retrieve | None = None
    lesson: Callable[[Lesson], None] | None = None
    after_run: Callable[[RunRecord], None] | None = None
    observe: Callable[[Any], None] | None = None
