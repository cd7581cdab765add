"""Suite editing: a task from a run (its answer as the expectation), comments kept, only a
valid suite saved, a shipped suite's paths kept when it is saved elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.eval import editing
from engine.eval.suitefile import SuiteFileError, load, shipped

SUITE = """\
# my suite: the comment stays
schema_version: 1
name: s
tasks:
  - id: one
    input: What is 1 plus 1?
    expect:
      - number: 2   # exact
"""


@pytest.mark.parametrize(
    ("answer", "check"),
    [
        ("It is 1,048,576.", {"number": 1048576}),
        ("About -3.5 degrees.", {"number": -3.5}),
        ("Paris", {"contains": "Paris"}),
    ],
)
def test_an_answer_becomes_the_check_its_kind_needs(answer: str, check: dict) -> None:
    assert editing.expectation(answer) == check


def test_a_run_without_an_answer_cannot_be_a_task() -> None:
    with pytest.raises(SuiteFileError, match="no final answer"):
        editing.task_from_run("What is 2?", "  ")


def test_an_added_task_gets_a_free_id_and_keeps_comments(tmp_path: Path) -> None:
    text = editing.add_task(SUITE, editing.task_from_run("One plus one?", "2", ["one-plus-one"]))
    assert "# my suite: the comment stays" in text and "# exact" in text
    path = tmp_path / "s.suite.yaml"
    suite = editing.save_text(path, text)
    assert [t.id for t in suite.tasks] == ["one", "one-plus-one-2"]
    assert suite.task("one-plus-one-2").checks[0].options["value"] == 2
    assert load(path).sha256 == suite.sha256


def test_an_invalid_suite_is_not_written_and_the_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.suite.yaml"
    path.write_text(SUITE, encoding="utf-8")
    with pytest.raises(SuiteFileError) as caught:
        editing.save_text(path, SUITE.replace("number: 2", "numbr: 2"))
    assert str(path) in str(caught.value) and "numbr" in str(caught.value)
    assert path.read_text(encoding="utf-8") == SUITE
    assert [p.name for p in tmp_path.iterdir()] == ["s.suite.yaml"]  # no temporary left


def test_a_shipped_suite_moved_elsewhere_still_finds_its_agent_and_fixtures(
    tmp_path: Path,
) -> None:
    original = shipped()["research"]
    moved = editing.relocate(original.read_text(encoding="utf-8"), original.parent, tmp_path)
    suite = editing.save_text(tmp_path / original.name, moved)
    before = load(original)
    assert suite.agent is not None and before.agent is not None
    assert suite.agent.resolve() == before.agent.resolve()
    for a, b in zip(suite.tasks, before.tasks, strict=True):
        assert (a.workspace and a.workspace.resolve()) == (b.workspace and b.workspace.resolve())
