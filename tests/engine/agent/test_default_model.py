"""Each shipped template runs a task to a final answer on the real default model.

Headless, greedy, with the step grammar on: every step must parse and validate, and
each run makes at least one valid tool call that succeeds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.agent import events as ev
from engine.agent.hooks import RunHooks
from engine.agent.launch import agent_run, open_model
from engine.agent.model import SessionModel
from engine.agent.templates import new_agent

pytestmark = pytest.mark.slow

CASES = [
    ("calculator", "What is 345 * 12 - 17?", "4123"),
    ("research", "What is the hotel called?", "Casa Azul"),
    ("coder", "What is 2 to the power of 40?", "1099511627776"),
    ("planner", "A class has 28 pupils and each needs 3 pencils. How many pencils?", None),
]


@pytest.fixture(scope="module")
def model(default_model: Path) -> SessionModel:
    from engine.agent.agentfile import load
    from engine.agent.templates import templates

    spec = load(templates()["calculator"]).spec
    return open_model(spec, name=str(default_model))


@pytest.mark.parametrize(("template", "task", "expected"), CASES)
def test_template_runs_a_task(
    model: SessionModel, tmp_path: Path, template: str, task: str, expected: str | None
) -> None:
    agent = new_agent(template, tmp_path / f"{template}.agent.yaml")
    hooks = RunHooks(before_call=lambda request: True)  # --approve auto
    with agent_run(agent, task, model, hooks=hooks) as run:
        events = list(run)
    finished = events[-1]
    assert isinstance(finished, ev.RunFinished)
    assert finished.final_answer, finished
    calls = [e for e in events if isinstance(e, ev.ToolCall)]
    results = [e for e in events if isinstance(e, ev.ToolResult)]
    assert calls and all(c.valid for c in calls), calls
    assert finished.metrics.invalid_steps == 0
    assert any(r.ok for r in results), results
    if expected is not None:
        outputs = " ".join(r.output for r in results)
        assert expected in outputs
    assert Path(events[0].transcript).is_file()


def test_preview_counts_with_the_model_tokenizer(model: SessionModel) -> None:
    from engine.agent.agentfile import load
    from engine.agent.prompt import preview
    from engine.agent.templates import templates
    from engine.tools.catalog import build_registry

    spec = load(templates()["calculator"]).spec
    with build_registry([t.to_entry() for t in spec.tools], workspace=Path.cwd()) as registry:
        shown = preview(
            spec,
            registry.callable_tools(),
            count_tokens=model.count_tokens,
            context_length=model.context_length,
        )
    assert not shown.estimated and shown.context_length == 8192
    assert shown.sections[1].tokens == model.count_tokens(shown.sections[1].text) > 10
    assert shown.total_tokens < 1000
