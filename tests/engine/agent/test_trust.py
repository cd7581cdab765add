"""What running an agent file trusts (engine.agent.trust) and where its paths lead."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.agent.agentfile import parse
from engine.agent.launch import agent_run
from engine.agent.memory import store_name
from engine.agent.spec import ToolSpec
from engine.agent.transcript import transcript_path
from engine.agent.trust import UntrustedAgentError, trust_items
from tests.helpers.fake_model import ScriptedModel, final

PLAIN = "schema_version: 1\nname: x\ngoals: [a]\ntools:\n  - name: calculator\n"


def test_a_file_that_stays_in_its_folder_has_no_items(tmp_path: Path) -> None:
    agent = parse(PLAIN + "workspace: sub/../ws\n", tmp_path / "a.agent.yaml")
    assert trust_items(agent) == ()
    with agent_run(agent, "t", ScriptedModel([final("ok")]), transcript=False) as run:
        assert list(run)[-1].stop_reason == "final_answer"


def test_home_and_parent_paths_are_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    folder = tmp_path / "a" / "b"
    agent = parse(PLAIN + "workspace: '~/ws'\n", folder / "a.agent.yaml")
    assert agent.workspace == tmp_path / "user" / "ws"  # `~` is the home, as for documents
    (item,) = trust_items(agent)
    assert item.text == f"workspace ~/ws ({tmp_path / 'user' / 'ws'}) is outside the agent's folder"
    up = parse(
        PLAIN + "memory: {enabled: true, documents: [../notes, ok.md]}\n", folder / "a.agent.yaml"
    )
    assert [i.text for i in trust_items(up)] == [
        f"memory document ../notes ({tmp_path / 'a' / 'notes'}) is outside the agent's folder"
    ]
    off = parse(PLAIN + "memory: {enabled: false, documents: [/etc]}\n", folder / "a.agent.yaml")
    assert trust_items(off) == ()  # memory off: nothing is ingested


def test_the_spec_that_runs_is_the_one_checked(tmp_path: Path) -> None:
    """A run of an edited spec (the designer's, unsaved) is checked, not only the file."""
    agent = parse(PLAIN, tmp_path / "a.agent.yaml")
    shell = ToolSpec("sh", kind="command", description="d", command=["ls"])
    spec = dataclasses.replace(agent.spec, tools=(*agent.spec.tools, shell))
    with (
        pytest.raises(UntrustedAgentError, match="command tool sh runs `ls`"),
        agent_run(agent, "t", ScriptedModel([final("x")]), spec=spec, transcript=False),
    ):
        pass


def test_transcripts_and_stores_are_named_by_one_rule() -> None:
    for name in ("Notes keeper", "notes_keeper.v2", "Ünïcode & co", "..x..", "日本"):
        slug = store_name(name)
        assert slug and slug[0] not in "-._" and slug[-1] not in "-._"
        assert transcript_path(name, "abcdef12", Path("/r")).name.endswith(
            f"-{slug[:40].strip('-._') or 'agent'}-abcdef12.jsonl"
        )
    assert store_name("Notes keeper") == "notes-keeper"
