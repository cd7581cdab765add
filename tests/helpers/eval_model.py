"""A scripted model for suite runs: each task's steps, picked by a phrase of the task."""

from __future__ import annotations

from collections.abc import Sequence

from tests.helpers.fake_model import Script, ScriptedModel, final


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
