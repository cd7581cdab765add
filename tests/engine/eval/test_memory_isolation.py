"""Each task's memory is its own unless the task says `memory: suite` (real embedder)."""

from __future__ import annotations

from pathlib import Path

from engine.eval.runner import EvalOptions, SuiteRun, TaskFinished
from engine.eval.suitefile import load
from engine.paths import models_dir, resource
from tests.helpers.eval_model import by_task
from tests.helpers.fake_model import call, final

SUITE = """\
schema_version: 1
name: isolation
tasks:
  - id: save
    input: "Remember this: my locker code is 4721."
    memory: suite
    expect: [{tool_used: memory.save}]
  - id: shared-recall
    input: What is my locker code? (shared)
    memory: suite
    expect: [{number: 4721}]
  - id: fresh-recall
    input: What is my locker code? (fresh)
    expect: [{not_contains: "4721"}]
"""


def answer_from_memory(prompt: str) -> str:
    """The answer a model would give from what its prompt shows."""
    return final(
        "It is 4721."
        if "4721" in prompt.split("(shared)")[-1].split("(fresh)")[-1]
        else "I do not know."
    )


def test_memory_is_shared_only_by_tasks_that_say_suite(
    tmp_path: Path, default_embedder: Path
) -> None:
    (models_dir() / "default-embedder").symlink_to(default_embedder, target_is_directory=True)
    suite = tmp_path / "iso.suite.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    search = call("memory.search", '{"query": "locker code"}')
    model = by_task(
        {
            "my locker code is 4721": [
                call("memory.save", '{"text": "My locker code is 4721."}'),
                final("Saved."),
            ],
            "(shared)": [search, answer_from_memory],
            "(fresh)": [search, answer_from_memory],
        }
    )
    agent = str(resource("agents", "notekeeper.agent.yaml"))
    run = SuiteRun(load(suite), EvalOptions(agents=(agent,)), open_model=lambda v, s: model)
    records = {e.record["task"]: e.record for e in run if isinstance(e, TaskFinished)}
    assert records["save"]["passed"], records["save"]["checks"]
    assert records["shared-recall"]["answer"] == "It is 4721."
    assert records["fresh-recall"]["answer"] == "I do not know."
    assert all(r["passed"] for r in records.values())
    # the agent's own store in the data home was never touched
    assert not (Path(str(models_dir().parent)) / "memory" / "notekeeper").exists()
