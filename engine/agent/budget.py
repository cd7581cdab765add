"""Run budgets (steps, tokens, wall clock) and the cancel token the model sees."""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.errors import Cancelled
from engine.progress import CancelToken


class BudgetExceeded(Exception):
    """Internal: a budget ran out; `reason` is the run's stop reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunCancel(CancelToken):
    """Cancelled when the person cancels (`parent`) or the wall clock runs out."""

    def __init__(self, parent: CancelToken | None, deadline: float) -> None:
        super().__init__()
        self.parent = parent
        self.deadline = deadline

    @property
    def cancelled(self) -> bool:
        return self.by_person or time.monotonic() >= self.deadline or super().cancelled

    @property
    def by_person(self) -> bool:
        return self.parent is not None and self.parent.cancelled

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled("cancelled")

    def reason(self) -> str:
        """The stop reason once cancelled: cancelled (by the person) or wall_clock."""
        return "cancelled" if self.by_person or super().cancelled else "wall_clock"

    def raise_if_done(self) -> None:
        if self.cancelled:
            raise BudgetExceeded(self.reason())


@dataclass
class Budget:
    max_steps: int
    max_tokens: int
    steps: int = 0
    tokens: int = 0

    @property
    def steps_left(self) -> int:
        return self.max_steps - self.steps

    @property
    def tokens_left(self) -> int:
        return self.max_tokens - self.tokens
