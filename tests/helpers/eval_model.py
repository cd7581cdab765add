"""A scripted model for suite runs: each task's steps, picked by a phrase of the task."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers.fake_model import Script, ScriptedModel, call, final


def by_task(scripts: dict[str, Sequence[Script]], *, delay: float = 0.0) -> ScriptedModel:
    """A model that answers a prompt with the next step scripted for the first phrase of
    `scripts` found in it (each task's steps in order; a callable step is given the
    prompt); unknown prompts get `(unscripted)`."""
    queues = {phrase: list(steps) for phrase, steps in scripts.items()}

    def step(prompt: str) -> str:
        for phrase, steps in queues.items():
            if phrase in prompt and steps:
                script = steps.pop(0)
                return script(prompt) if callable(script) else script
        return final("(unscripted)")

    return ScriptedModel([step] * 1000, delay=delay)


#: Three sums; `sums_scripts()` answers the second wrong unless told otherwise.
SUMS_SUITE = """\
schema_version: 1
name: three sums
tasks:
  - id: power
    input: What is 2 to the power of 20?
    expect:
      - number: 1048576
      - tool_used: calculator
  - id: seven
    input: What is 3 plus 4?
    expect:
      - number: 7
  - id: eight
    input: What is 5 plus 3?
    expect:
      - number: 8
"""


def sums_scripts(seven: str = "It is 8.") -> dict[str, list[Any]]:
    """The scripted steps of SUMS_SUITE's tasks ("3 plus 4" answered `seven`)."""
    return {
        "power of 20": [call("calculator", '{"expression": "2**20"}'), final("It is 1,048,576.")],
        "3 plus 4": [final(seven)],
        "5 plus 3": [final("It is 8.")],
    }


def suite_file(folder: Path, text: str = SUMS_SUITE) -> Path:
    path = folder / "sums.suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path
