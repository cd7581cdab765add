"""The shipped templates load, and `new_agent` copies them safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.agent.agentfile import AgentFileError, load
from engine.agent.templates import new_agent, templates


def test_four_templates_ship_and_load() -> None:
    found = templates()
    assert {"calculator", "research", "coder", "planner"} <= set(found)
    strategies = {load(path).spec.planning.strategy for path in found.values()}
    assert "plan_execute" in strategies and "react" in strategies


@pytest.mark.parametrize("name", ["calculator", "research", "coder", "planner"])
def test_each_template_builds_its_tool_catalogue(name: str, tmp_path: Path) -> None:
    from engine.tools.catalog import build_registry

    agent = new_agent(name, tmp_path / f"{name}.agent.yaml")
    entries = [t.to_entry() for t in agent.spec.tools]
    with build_registry(entries, workspace=agent.workspace) as registry:
        assert registry.names == [t.name for t in agent.spec.tools]


def test_new_agent_copies_comments_and_the_sample_workspace(tmp_path: Path) -> None:
    agent = new_agent("research", tmp_path / "mine.agent.yaml")
    text = (tmp_path / "mine.agent.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Notes assistant")
    assert (agent.workspace / "trip.md").is_file()


def test_new_agent_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    target = tmp_path / "a.agent.yaml"
    target.write_text("mine", encoding="utf-8")
    with pytest.raises(AgentFileError, match="already exists"):
        new_agent("calculator", target)
    assert target.read_text(encoding="utf-8") == "mine"
    with pytest.raises(AgentFileError, match="no agent template 'nope'; templates: "):
        new_agent("nope", tmp_path / "b.agent.yaml")
    with pytest.raises(AgentFileError, match=r"ends with \.agent\.yaml"):
        new_agent("calculator", tmp_path / "b.yaml")
