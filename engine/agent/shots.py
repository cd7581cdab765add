"""Which worked examples a run shows, and in what order (`planning.examples`).

`all`: every example, as written. `similar`: the `max_examples` examples whose task is
most like this run's task, the most similar last, nearest to the task. A small base
model copies the example just above the question far more than one further up (on the
default model "What is 3 to the power of 5?" became `3 * 5` with the power example
third of five, and `3 ** 5` with it last). Similarity is lexical and needs no model:
the words two tasks share, each weighted by how rare it is among the examples (inverse
document frequency), so "power" counts and "what" hardly does. Numbers are left out:
the same shape of question rarely has the same numbers. Ties keep the written order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from engine.agent.spec import Example

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def words(text: str) -> set[str]:
    """The words of a text, lowercased, without numbers; a plural s is dropped."""
    found = set()
    for word in _WORD.findall(text.lower()):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.add(word)
    return found


def similarity(examples: Sequence[Example], task: str) -> list[float]:
    """Each example's score for `task`: the summed inverse document frequency of the
    words it shares with the task."""
    bags = [words(e.task) for e in examples]
    wanted = words(task)
    n = len(bags)
    weight = {w: math.log((n + 1) / (1 + sum(w in b for b in bags))) + 1.0 for w in wanted}
    return [sum(weight[w] for w in bag & wanted) for bag in bags]


def chosen(examples: Sequence[Example], task: str, how: str, limit: int) -> tuple[Example, ...]:
    """The examples a run on `task` shows, in prompt order."""
    if how != "similar" or not examples:
        return tuple(examples)
    scores = similarity(examples, task)
    # Best first (ties: as written), keep `limit`, then show the best one last.
    ranked = sorted(range(len(examples)), key=lambda i: (-scores[i], i))[: max(1, limit)]
    return tuple(examples[i] for i in reversed(ranked))
