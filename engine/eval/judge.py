"""Model-judged checks: a prepared model reads the task, the answer and a rubric and says
yes or no, constrained by a grammar to exactly one of those words.

A judge is only as good as its model (a small model is a weak judge, and a model judging
its own answers is a lenient one): results of these checks are labelled model-judged, and
they are off unless asked for (`eval run --judge`).
"""

from __future__ import annotations

from collections.abc import Callable

import jinja2

from engine.agent.model import StepModel
from engine.errors import WorkbenchError
from engine.eval.checks import Judge
from engine.llm.constraints import Grammar
from engine.llm.events import GenerationFinished
from engine.paths import resource

VERDICTS = ("yes", "no")


def prompt(rubric: str, task: str, answer: str) -> str:
    text = resource("prompts", "eval", "judge.jinja").read_text(encoding="utf-8")
    template = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return template.from_string(text).render(rubric=rubric, task=task, answer=answer).strip()


def model_judge(open_judge: Callable[[str | None], StepModel]) -> Judge:
    """A `Judge` that asks the model `open_judge(name)` returns (name: the check's `model`,
    or None for the suite run's judge model)."""

    def judge(rubric: str, task: str, answer: str, model_name: str | None) -> tuple[bool, str]:
        model = open_judge(model_name)
        text = model.render([{"role": "user", "content": prompt(rubric, task, answer)}])
        words = ""
        for event in model.generate(
            text, grammar=Grammar.choice(VERDICTS), max_new_tokens=4, cancel=None
        ):
            if isinstance(event, GenerationFinished):
                words = event.text.strip()
        verdict = words.lower().strip(" .")
        if verdict not in VERDICTS:
            raise WorkbenchError(
                f"the judge model {model.name!r} answered {words!r}, not yes or no"
            )
        return verdict == "yes", f"{verdict} (judged by {model.name})"

    return judge
