"""`profile record -- agent run ...` for real: the tiny model (random weights, so its text is
nonsense) under the step grammar, a calculator tool, recorded, saved, loaded, compared
and exported through `main()`."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.telemetry import chrome_trace, session_file
from engine.telemetry.trace_check import problems
from tests.helpers.fake_model import ScriptedModel, call, final

AGENT = """\
schema_version: 1
name: Tiny calculator
goals:
  - Compute with the calculator tool.
tools:
  - name: calculator
    approval: auto
planning:
  strategy: react
  max_steps: 3
  max_tokens: 192
  thoughts: false
  tool_choice: required   # the grammar makes the first step a tool call
model:
  name: tiny-int4
  max_step_tokens: 64
  sampling:
    temperature: 0
"""


def _record(
    capsys: pytest.CaptureFixture[str], agent: Path, model: Path, out: Path, *flags: str
) -> dict[str, Any]:
    argv = ["profile", "record", "--out", str(out), "--json", "--rate", "50", *flags[:1]]
    run = ["agent", "run", str(agent), "--task", "What is 2 + 3?", "--model", str(model)]
    code = main([*argv, "--", *run, "--provider", "cpu", "--approve", "auto", *flags[1:]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result: dict[str, Any] = json.loads(captured.out)
    return result


@pytest.fixture
def agent_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.agent.yaml"
    path.write_text(AGENT, encoding="utf-8")
    return path


def test_a_real_agent_run_recorded_compared_exported(
    tiny_int4: Path, agent_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _record(capsys, agent_file, tiny_int4, tmp_path / "a.awprof.json", "--ort-profile")
    assert a["model"] == "tiny-int4" and a["provider"] == "cpu" and a["runs"] == 1
    assert Path(a["transcript"]).parent == Path(tmp_path / "home" / "runs")
    s = session_file.load(a["session"])
    [run] = s.runs
    assert run.kind == "agent" and run.manifest["name"] == "tiny-int4"
    assert run.provider["active"] == "cpu" and run.extra["agent"] == "Tiny calculator"
    assert s.samples and s.samples[0].t and s.ort_profile  # counters and operator profile
    m = run.metrics
    gens = m["per_generation"]
    assert m["generations"] == len(gens) >= 2 and all(g["phase"] == "step" for g in gens)
    assert m["ttft_ms"] == gens[0]["ttft_ms"] > 0 and m["decode_tok_s"] > 0
    assert m["prefill_tok_s"] > 0 and m["inter_token"]["count"] > 0
    assert gens[1]["cached_tokens"] > 0  # the second step reuses the first step's prompt
    q = m["quality"]
    assert q["tool_calls"] >= 1 and q["tool_calls_valid"] == q["tool_calls"]  # the grammar
    assert q["final_answer"] == a["final_answer"] and q["stop_reason"] == a["stop_reason"]
    steps = {st["step"]: st for st in m["steps"]}
    assert "load" in steps[0]["parts_ms"]
    assert steps[1]["tools"] == ["calculator"] and steps[1]["phase"] == "step"
    assert steps[1]["tokens"] == gens[0]["new_tokens"]
    assert steps[1]["parts_ms"]["generation"] == pytest.approx(gens[0]["ms"])
    parts = steps[1]["parts_ms"]  # prepare: the prompt and the grammar before the engine ran
    assert parts["prepare"] > 0 and parts["generation"] > parts["prefill"] > 0
    inside = parts["prepare"] + parts["generation"] + parts["tool"]
    # what is left is parsing the step and handing events over (slack for a busy machine)
    assert inside <= steps[1]["ms"] + 1e-6 and steps[1]["ms"] - inside < 100
    kinds = {e.kind for e in run.events}
    assert {"run_started", "generation_started", "prefill_finished", "token_delta"} <= kinds
    assert {"generation_finished", "tool_call", "tool_result", "run_finished"} <= kinds

    b = _record(capsys, agent_file, tiny_int4, tmp_path / "b.awprof.json", "--name=free",
                "--unconstrained")  # fmt: skip
    assert main(["profile", "compare", a["session"], b["session"], "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {r["metric"]: r for r in result["metrics"]}
    assert rows["ttft_ms"]["a"] == m["ttft_ms"] and rows["ttft_ms"]["ratio"] is not None
    assert rows["decode_tok_s"]["ratio"] is not None and rows["ttft.p50_ms"]["a"] is not None
    quality = result["quality"]
    assert quality["runs"][0]["answer_a"] == a["final_answer"]
    assert quality["runs"][0]["answer_b"] == b["final_answer"]
    assert quality["tool_calls_valid_a"] == [q["tool_calls_valid"], q["tool_calls"]]
    assert main(["profile", "compare", a["session"], b["session"]]) == 0
    assert "valid tool calls A" in capsys.readouterr().out

    trace, table = tmp_path / "a.trace.json", tmp_path / "a.csv"
    export = ["profile", "export", a["session"], "--chrome", str(trace), "--csv", str(table)]
    assert main(export) == 0
    data = json.loads(trace.read_text())
    assert problems(data) == []
    names = {(e.get("cat"), e["name"]) for e in data["traceEvents"] if e["ph"] == "B"}
    assert {("tool", "calculator"), ("generation", "generate:step"), ("step", "step 1")} <= names
    assert any(e["ph"] == "i" and e["name"] == "token_delta" for e in data["traceEvents"])
    assert any(e["ph"] == "C" for e in data["traceEvents"])
    assert any(e["ph"] == "X" for e in data["traceEvents"])  # the operator profile
    [row] = list(csv.DictReader(table.read_text(encoding="utf-8").splitlines()))
    assert row["kind"] == "agent" and float(row["ttft.p50_ms"]) > 0
    assert main(["profile", "show", a["session"]]) == 0
    shown = capsys.readouterr().out
    assert "step 1 [step]" in shown and "generation (step 1, step)" in shown


def test_only_agent_run_can_be_recorded(
    agent_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", "record", "--", "agent", "validate", str(agent_file)]) == 2
    assert "can record `agent run`" in capsys.readouterr().err
    missing = str(agent_file.with_name("missing.agent.yaml"))
    assert main(["profile", "record", "--", "agent", "run", missing, "--task", "x"]) == 2
    assert "missing.agent.yaml" in capsys.readouterr().err


def test_ctrl_c_keeps_the_recorded_agent_run(
    agent_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    def interrupt(prompt: str) -> str:
        raise KeyboardInterrupt

    model = ScriptedModel([call("calculator", '{"expression": "2 + 3"}'), interrupt])
    monkeypatch.setattr("engine.agent.launch.open_model", lambda *args: model)
    out = tmp_path / "cut.awprof.json"
    argv = ["profile", "record", "--out", str(out), "--json", "--", "agent", "run"]
    assert main([*argv, str(agent_file), "--task", "What is 2 + 3?", "--approve", "auto"]) == 130
    assert json.loads(capsys.readouterr().out)["cancelled"] is True
    s = session_file.load(out)
    [run] = s.runs
    assert s.extra["cancelled"] and run.manifest == {"name": "fake"}
    assert run.provider == {"active": "cpu"}
    m = run.metrics
    assert (m["generations"], m["quality"]["tool_calls_valid"], m["quality"]["stop_reason"]) == (
        1, 1, None)  # fmt: skip
    cut = {sp.kind for sp in run.spans if sp.incomplete}
    assert cut == {"agent_run"}  # the interrupted generation never reported its timings
    assert [st["step"] for st in m["steps"]] == [0, 1]
    assert problems(chrome_trace.build(s)) == []


def test_a_recorded_agent_run_has_the_agents_memory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    memory_home: Path,
) -> None:
    """The same memory as `agent run`: the store, its tools, retrieval and the documents."""
    path = tmp_path / "librarian.agent.yaml"
    assert main(["agent", "new", "--template", "librarian", str(path)]) == 0
    model = ScriptedModel([call("documents.search", '{"query": "hotel"}'), final("Casa Azul")])
    monkeypatch.setattr("engine.agent.launch.open_model", lambda *args: model)
    out = tmp_path / "memory.awprof.json"
    argv = ["profile", "record", "--out", str(out), "--json", "--", "agent", "run", str(path)]
    assert main([*argv, "--task", "Which hotel?", "--approve", "auto"]) == 0
    captured = capsys.readouterr()
    assert "[memory] documents: 3 ingested" in captured.err
    assert json.loads(captured.out)["final_answer"] == "Casa Azul"
    [run] = session_file.load(out).runs
    kinds = {e.kind for e in run.events}
    assert {"memory_query", "memory_query_finished", "tool_result"} <= kinds
    results = [e for e in run.events if e.kind == "tool_result"]
    assert results and "Casa Azul" in json.dumps(results[0].data)
    assert (memory_home / "memory" / "librarian").is_dir()  # the agent's own store
