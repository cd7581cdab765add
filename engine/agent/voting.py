"""Self-consistency for the final answer (`planning.answer: vote`).

The greedy final answer is one candidate; `votes - 1` more are written under the same
final-answer grammar with sampling (temperature `TEMPERATURE`, seeds 1, 2, ... after the
agent's own seed, so a run is repeatable). The answer is the first candidate of the
value most candidates agree on. A candidate's value is its last number (1,048,576 and
1048576.0 agree), or else its words, lowercased, without punctuation. Ties go to the
value of the greedy candidate, then to the earlier one. Its cost is in the run metrics
(`votes`, `vote_tokens`): each candidate is a full generation of the final step.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

#: Sampling temperature of the extra candidates.
TEMPERATURE = 0.7

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def value(answer: str) -> str:
    """What a candidate says, for counting votes."""
    numbers = _NUMBER.findall(answer)
    if numbers:
        number = float(numbers[-1].replace(",", ""))
        return f"{number:g}" if not number.is_integer() else str(int(number))
    return " ".join(re.findall(r"\w+", answer.lower()))


def majority(candidates: Sequence[str]) -> str:
    """The winning candidate (the first with the most common value)."""
    if not candidates:
        raise ValueError("no candidates to vote on")
    values = [value(c) for c in candidates]
    counts = Counter(values)
    best = max(counts.values())
    for candidate, found in zip(candidates, values, strict=True):
        if counts[found] == best:
            return candidate
    return candidates[0]  # unreachable: one value has the best count
