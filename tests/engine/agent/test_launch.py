"""An agent file wired to its tool catalogue: MCP tools from a real server join the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.agent import events as ev
from engine.agent.agentfile import parse
from engine.agent.launch import agent_run, with_limits
from engine.tools.errors import UntrustedToolsError
from tests.helpers.fake_model import ScriptedModel, call, final

SERVER = Path(__file__).resolve().parents[1] / "tools" / "mcp_notes_server.py"


def agent_text() -> str:
    return (
        "schema_version: 1\nname: Notes\ngoals: [Keep notes.]\ntools:\n  - name: calculator\n"
        "mcp_servers:\n  - name: notes\n    transport: stdio\n"
        f"    command: [{sys.executable!r}, {str(SERVER)!r}, stdio]\n    approval: auto\n"
    )


def test_mcp_tools_join_the_run(tmp_path: Path) -> None:
    agent = parse(agent_text(), tmp_path / "notes.agent.yaml")
    model = ScriptedModel([call("notes.add_note", '{"text": "buy milk"}'), final("saved")])
    with agent_run(agent, "Note: buy milk", model, trust=True, transcript=False) as run:
        events = list(run)
        names = [t.name for t in run.registry.callable_tools()]
    assert "notes.add_note" in names and "calculator" in names
    (result,) = [e for e in events if isinstance(e, ev.ToolResult)]
    assert result.ok and result.output == "saved note 1"
    assert events[-1].stop_reason == "final_answer"
    assert "notes.add_note" in model.grammars[0].source


def test_mcp_stdio_servers_need_trust(tmp_path: Path) -> None:
    agent = parse(agent_text(), tmp_path / "notes.agent.yaml")
    with (
        pytest.raises(UntrustedToolsError, match="--trust"),
        agent_run(agent, "t", ScriptedModel([]), transcript=False),
    ):
        pass


def test_with_limits_overrides_only_what_is_given() -> None:
    agent = parse(agent_text())
    spec = with_limits(agent.spec, max_steps=2)
    assert spec.planning.max_steps == 2
    assert spec.planning.max_tokens == agent.spec.planning.max_tokens
