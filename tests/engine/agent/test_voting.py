"""`planning.answer: vote`: more final-answer candidates, sampled, and the majority."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.agent import events as ev
from engine.agent.report import summarize
from engine.agent.run import AgentRun
from engine.agent.voting import majority, value
from engine.llm.sampling import SamplingParams
from engine.tools.base import ToolRegistry
from tests.helpers.agent_spec import make_spec
from tests.helpers.fake_model import ScriptedModel, call, final


class RecordingModel(ScriptedModel):
    """Remembers the sampling settings of every generation."""

    def __init__(self, outputs: list[str]) -> None:
        super().__init__(outputs)
        self.used: list[SamplingParams] = []

    def generate(self, prompt: str, **kwargs: Any) -> Iterator[Any]:
        self.used.append(self.sampling)
        return super().generate(prompt, **kwargs)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("It is 1,048,576.", "1048576"),
        ("It is 1048576.0", "1048576"),
        ("about 2.50 euros", "2.5"),
        ("The port is 8080 not 80", "80"),
        ("Under the blue flowerpot!", "under the blue flowerpot"),
    ],
)
def test_a_candidate_s_value(answer: str, expected: str) -> None:
    assert value(answer) == expected


def test_the_majority_wins_and_ties_go_to_the_first() -> None:
    assert majority(["it is 5", "it is 7", "7 it is"]) == "it is 7"
    assert majority(["it is 5", "it is 7"]) == "it is 5"
    assert majority(["5", "five", "5.0"]) == "5"
    with pytest.raises(ValueError):
        majority([])


def run(model: ScriptedModel, registry: ToolRegistry, workspace: Path, **planning: Any) -> list:
    spec = make_spec(**planning)
    return list(AgentRun(spec, model, registry, "task", workspace=workspace, transcript=False))


def test_a_voted_answer_is_the_majority_of_sampled_candidates(
    registry: ToolRegistry, workspace: Path
) -> None:
    model = RecordingModel(
        [call("add", '{"a": 2, "b": 3}'), final("it is 5"), final("it is 6"), final("it is 6")]
    )
    events = run(model, registry, workspace, answer="vote", votes=3)
    finished = events[-1]
    assert finished.final_answer == "it is 6"
    assert [e.text for e in events if isinstance(e, ev.FinalAnswer)] == ["it is 6"]
    # the tool step and the greedy answer as the agent says; the candidates sampled, seeded
    assert [s.temperature for s in model.used] == [0.0, 0.0, 0.7, 0.7]
    assert [s.seed for s in model.used] == [7, 7, 8, 9]
    assert model.sampling == SamplingParams(seed=7)  # restored after the vote
    metrics = summarize(events)["metrics"]
    assert metrics["votes"] == 2 and 0 < metrics["vote_tokens"] < metrics["generated_tokens"]


def test_without_vote_no_candidates_are_written(registry: ToolRegistry, workspace: Path) -> None:
    model = RecordingModel([call("add", '{"a": 2, "b": 3}'), final("it is 5"), final("x")])
    events = run(model, registry, workspace, answer="grounded")
    assert events[-1].final_answer == "it is 5" and len(model.used) == 2
    assert events[-1].metrics.votes == 0
