"""`main.py agent new | validate | run` (run with a scripted model in place of the LLM)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from tests.helpers.fake_model import ScriptedModel, call, final


def test_new_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "calc.agent.yaml"
    assert main(["agent", "new", "--template", "calculator", str(path)]) == 0
    assert path.is_file()
    assert main(["agent", "validate", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["name"] == "Calculator helper" and len(out["sha256"]) == 64
    assert main(["agent", "new", "--template", "calculator", str(path)]) == 2
    assert "error: " in capsys.readouterr().err


def test_validate_reports_field_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.agent.yaml"
    path.write_text("schema_version: 1\nname: x\ngoals: [a]\nplanning:\n  strategy: guess\n")
    assert main(["agent", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 5" in err and "planning.strategy" in err
    assert '"plan_execute"' in err


def test_validate_refuses_a_tool_listed_twice_as_run_does(
    tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "twice.agent.yaml"
    path.write_text(
        "schema_version: 1\nname: x\ngoals: [a]\ntools:\n  - name: calculator\n"
        "  - name: calculator\n    approval: ask\n"
    )
    assert main(["agent", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"{path}, line 6: tools[1].name:" in err
    assert "already in the catalogue (tools[0] 'calculator')" in err
    scripted.scripts.append([final("x")])
    assert main(["agent", "run", str(path), "--task", "t"]) == 2
    assert capsys.readouterr().err == err


class Scripted:
    """Stands in for `open_model`: each call takes the next script."""

    def __init__(self) -> None:
        self.scripts: list[list[str]] = []
        self.models: list[ScriptedModel] = []

    def __call__(
        self, spec: Any, name: Any = None, provider: Any = None, *rest: Any
    ) -> ScriptedModel:
        self.models.append(ScriptedModel(self.scripts.pop(0)))
        return self.models[-1]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Scripted:
    fake = Scripted()
    monkeypatch.setattr("engine.agent.launch.open_model", fake)
    return fake


def _agent(tmp_path: Path, template: str = "calculator") -> Path:
    path = tmp_path / f"{template}.agent.yaml"
    assert main(["agent", "new", "--template", template, str(path)]) == 0
    return path


def test_run_json(tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str]) -> None:
    path = _agent(tmp_path)
    scripted.scripts.append([call("calculator", '{"expression": "6 * 7"}', "compute"), final("42")])
    code = main(["agent", "run", str(path), "--task", "What is 6 times 7?", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    out = json.loads(captured.out)
    assert out["final_answer"] == "42" and out["stop_reason"] == "final_answer"
    tool_step, final_step = out["steps"]
    assert tool_step["tool"] == "calculator" and tool_step["arguments"] == {"expression": "6 * 7"}
    assert (
        tool_step["valid"] and tool_step["result"]["ok"] and tool_step["result"]["output"] == "42"
    )
    assert final_step == {
        "step": 2,
        "kind": "final",
        "thought": "",
        "answer": "42",
        "valid": True,
        "forced": False,
    }
    assert out["metrics"]["tool_calls"] == 1
    assert Path(out["transcript"]).is_file()
    assert "[final_answer]" in captured.err  # progress on stderr, one JSON object on stdout
    assert captured.out.count("\n") == 1


@pytest.mark.parametrize(
    ("flags", "stdin", "ok"),
    [
        (["--approve", "auto"], "", True),
        (["--approve", "deny"], "", False),
        ([], "y\n", True),
        ([], "n\n", False),
    ],
)
def test_run_approval(
    tmp_path: Path,
    scripted: Scripted,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    stdin: str,
    ok: bool,
) -> None:
    path = _agent(tmp_path, "coder")
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    scripted.scripts.append([call("python", '{"code": "print(1)"}'), final("1")])
    monkeypatch.setattr(
        "engine.tools.base.ToolRegistry._run",
        lambda self, tool, args, context, start: __import__(
            "engine.tools.base", fromlist=["x"]
        ).ToolResult(tool.name, args, True, "1"),
    )
    assert main(["agent", "run", str(path), "--task", "print 1", "--json", *flags]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)["steps"][0]["result"]
    assert result["ok"] is ok
    if not flags:
        assert "allow python" in captured.err


def test_run_refuses_untrusted_command_tools(
    tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cmd.agent.yaml"
    path.write_text(
        "schema_version: 1\nname: c\ngoals: [g]\ntools:\n  - name: echo\n    kind: command\n"
        "    description: echo\n    parameters: {type: object}\n    command: cat\n"
    )
    scripted.scripts.append([final("x")])
    assert main(["agent", "run", str(path), "--task", "t"]) == 2
    assert "--trust" in capsys.readouterr().err


def test_run_budget_flags(
    tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _agent(tmp_path)
    scripted.scripts.append([call("calculator", '{"expression": "1"}')] * 5)
    assert main(["agent", "run", str(path), "--task", "t", "--json", "--max-steps", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stop_reason"] == "max_steps" and len(scripted.models[0].prompts) == 2


def test_run_without_a_prepared_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _agent(tmp_path)
    assert main(["agent", "run", str(path), "--task", "t", "--model", "nothing-here"]) == 2
    err = capsys.readouterr().err
    assert "error: no prepared model 'nothing-here'" in err and "model prepare" in err


def test_run_with_memory_on_but_no_embedder_stops_before_starting(
    tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str], _data_home: Path
) -> None:
    path = _agent(tmp_path, "notekeeper")
    capsys.readouterr()
    assert main(["agent", "run", str(path), "--task", "Remember the gate code 4711."]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'Notekeeper' has memory on" in err
    assert "python main.py model prepare --source embedder-default" in err
    assert "--no-memory" in err
    assert scripted.models == []  # the model never opened: nothing half-started
    assert not (_data_home / "runs").exists() and not (_data_home / "memory").exists()


def test_run_no_memory_leaves_the_memory_and_its_tools_out(
    tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str], _data_home: Path
) -> None:
    path = _agent(tmp_path, "notekeeper")
    scripted.scripts.append([final("I cannot remember anything now.")])
    code = main(
        ["agent", "run", str(path), "--task", "Where is the boat?", "--no-memory", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["memory"] == [] and out["stop_reason"] == "final_answer"
    assert "You have no tools" in scripted.models[0].prompts[0]  # the memory tools left out
    assert not (_data_home / "memory").exists()


def test_run_with_memory_saves_and_a_later_run_retrieves(
    tmp_path: Path,
    scripted: Scripted,
    capsys: pytest.CaptureFixture[str],
    memory_home: Path,
) -> None:
    path = _agent(tmp_path, "notekeeper")
    scripted.scripts.append(
        [call("memory.save", '{"text": "The gate code is 4711."}'), final("Saved.")]
    )
    assert main(["agent", "run", str(path), "--task", "Remember: gate code 4711.", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["steps"][0]["result"]["ok"]
    assert (memory_home / "memory" / "notekeeper").is_dir()  # the store named after the agent
    scripted.scripts.append([call("memory.search", '{"query": "gate code"}'), final("4711")])
    assert main(["agent", "run", str(path), "--task", "What is the gate code?", "--json"]) == 0
    captured = capsys.readouterr()
    second = json.loads(captured.out)
    hit = second["memory"][0]
    assert [h["step"] for h in second["memory"]] == [1, 2]
    assert "The gate code is 4711." in second["steps"][0]["result"]["output"]
    assert hit["step"] == 1 and hit["items"][0]["text"] == "The gate code is 4711."
    assert "Relevant memory:\n- The gate code is 4711." in scripted.models[1].prompts[0]
    assert "[memory] step 1: #" in captured.err
    assert main(["memory", "list", "--agent", "notekeeper", "--kind", "long", "--json"]) == 0
    listed = capsys.readouterr().out
    assert "Task: Remember: gate code 4711." in listed and "The gate code is 4711." in listed


def test_run_ingests_the_documents_of_the_agent_file_first(
    tmp_path: Path,
    scripted: Scripted,
    capsys: pytest.CaptureFixture[str],
    memory_home: Path,
) -> None:
    path = _agent(tmp_path, "librarian")
    scripted.scripts.append([call("documents.search", '{"query": "hotel"}'), final("Casa Azul")])
    assert main(["agent", "run", str(path), "--task", "Which hotel?", "--json"]) == 0
    captured = capsys.readouterr()
    assert "[memory] documents: 3 ingested" in captured.err
    out = json.loads(captured.out)
    assert "Casa Azul" in out["steps"][0]["result"]["output"]


def test_validate_refuses_an_alias_bomb_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.agent.yaml"
    lines = ["schema_version: 1", "name: bomb", "x0: &a0 [lol]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 6)]
    path.write_text("\n".join([*lines, "goals: *a5", ""]))
    assert main(["agent", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, line 7: too many YAML aliases") and err.count("\n") == 1


def test_run_shows_tool_output_and_answers_escaped(
    tmp_path: Path, scripted: Scripted, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, a tool's output (and the model's text) reached the terminal raw: a file
    could retitle the window and clear the screen of whoever ran the agent."""
    hostile = "\x1b]0;pwned\x07\x1b[2J<b>bold</b>\u202eevil"
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "evil.txt").write_text(hostile, encoding="utf-8")
    path = tmp_path / "reader.agent.yaml"
    path.write_text(
        "schema_version: 1\nname: reader\ngoals: [read]\ntools:\n  - name: files.read\n"
    )
    script = [call("files.read", '{"path": "evil.txt"}'), final("seen \x1b[31mred\x9b")]
    scripted.scripts.append(script)
    assert main(["agent", "run", str(path), "--task", "read it"]) == 0
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert not any(ch in stream for ch in "\x1b\x07\u202e\x9b"), stream
    assert "\\x1b]0;pwned\\x07\\x1b[2J<b>bold</b>\\u202eevil" in captured.err  # the tool result
    assert captured.out == "seen \\x1b[31mred\\x9b\n"  # the final answer
    scripted.scripts.append(script)
    assert main(["agent", "run", str(path), "--task", "read it", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["final_answer"] == "seen \x1b[31mred\x9b"  # --json: byte-faithful
