"""A real recorded session of a real generation on the tiny model: saved, loaded, compared,
exported; and agent-shaped events recorded through the generic adapter."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.llm.events import GenerationFinished
from engine.llm.session import LLMSession
from engine.telemetry import chrome_trace, csv_export, ort_profile, session_file
from engine.telemetry.compare import compare, format_table
from engine.telemetry.recorder import Recorder
from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.sources import SystemSource
from engine.telemetry.trace_check import problems


def _recorder(name: str) -> Recorder:
    return Recorder(name=name, sampler=HardwareSampler([SystemSource()], rate_hz=50.0))


def _record_generation(model: Path, name: str, tmp: Path, ort: bool = False) -> Path:
    session = LLMSession(model, provider="cpu", profile_dir=tmp if ort else None)
    with _recorder(name) as rec:
        for prompt in ("the quick brown", "hello there"):
            with rec.run(f"generate {prompt}") as run:
                run.manifest = session.manifest.to_dict()
                run.provider = session.provider.to_dict()
                seen = list(rec.watch(session.generate(prompt, max_new_tokens=12, ignore_eos=True)))
                assert isinstance(seen[-1], GenerationFinished)  # events pass through untouched
        profile = session.end_profiling()
        if profile is not None:
            rec.ort_profile.extend(ort_profile.read(profile, rec.t0))
    return session_file.save(rec.finish())


def test_real_generation_recorded_saved_loaded(tiny_int4: Path, tmp_path: Path) -> None:
    path = _record_generation(tiny_int4, "int4", tmp_path)
    assert path.parent.name == "sessions" and path.name.endswith(session_file.SUFFIX)
    s = session_file.load(path)
    assert [r.label for r in s.runs] == ["generate the quick brown", "generate hello there"]
    run = s.runs[0]
    m = run.metrics
    assert m["new_tokens"] == 12 and m["generations"] == 1 and m["inter_token"]["count"] == 11
    assert 0 < m["ttft_ms"] < m["duration_ms"] and m["decode_tok_s"] > 0 and m["prefill_tok_s"] > 0
    [step] = m["steps"]
    assert (step["step"], step["tokens"], step["phase"], step["tools"]) == (0, 12, "", [])
    assert step["ms"] == pytest.approx(m["durations"]["generation"]["max_ms"])
    assert set(step["parts_ms"]) == {"generation", "prefill", "decode"}
    assert step["parts_ms"]["generation"] == pytest.approx(step["ms"])
    [gen] = m["per_generation"]
    assert (gen["new_tokens"], gen["ttft_ms"]) == (12, m["ttft_ms"])
    assert gen["inter_token"] == m["inter_token"] and m["ttft"]["count"] == 1
    assert m["quality"]["final_answer"] == run.events[-2].data["text"]  # generation_finished
    kinds = {sp.kind for sp in run.spans}
    assert kinds == {"run", "step", "generation", "prefill", "decode"}
    prefill = next(sp for sp in run.spans if sp.kind == "prefill")
    assert prefill.ms == pytest.approx(m["ttft_ms"], rel=1e-6)
    times = [e.t for e in run.events]
    assert times == sorted(times) and run.start <= times[0] and times[-1] <= run.end
    assert run.manifest["name"] == "tiny-int4" and run.provider["active"] == "cpu"
    # hardware samples on the same clock, covering the runs
    system = next(x for x in s.samples if x.source == "system")
    assert len(system.t) >= 2 and system.t[0] <= run.start and system.t[-1] >= s.runs[-1].end
    assert s.sampler["dropped"] == 0 and s.sampler["ticks"] == len(system.t)
    names = [c["name"] for c in system.channels]
    rss = [row[names.index("process_rss_mb")] for row in system.values]
    assert all(v is not None and v > 10 for v in rss)
    machine = s.machine
    assert machine["cores_logical"] >= 1 and machine["ram_gb"] > 0 and machine["python"]
    assert "onnxruntime" in machine["libraries"] and "numpy" in machine["libraries"]
    assert machine["gpus"] == [] and "nvidia" in machine["gpu_reasons"]
    assert len(machine["load_average"]) == 3  # how busy the machine was (Linux)
    assert session_file.list_sessions()[0]["runs"] == 2


def test_two_real_sessions_compared(tiny_int4: Path, tiny_fp32: Path, tmp_path: Path) -> None:
    a = session_file.load(_record_generation(tiny_int4, "int4", tmp_path))
    b = session_file.load(_record_generation(tiny_fp32, "fp32", tmp_path))
    result = compare(a, b)
    rows = {r["metric"]: r for r in result["metrics"]}
    decode = rows["decode_tok_s"]
    assert decode["ratio"] == pytest.approx(decode["b"] / decode["a"])
    assert decode["better"] in ("a", "b")
    assert result["a"]["quantizations"] == ["int4"] and result["b"]["quantizations"] == ["fp32"]
    q = result["quality"]
    assert q["paired_runs"] == 2 and q["tool_calls_valid_a"] == [0, 0]
    same = [r["answer_a"] == r["answer_b"] for r in q["runs"]]
    assert q["same_answers"] == sum(same)
    assert "decode tok/s" in format_table(result)


def test_exports_of_a_real_session(tiny_int4: Path, tmp_path: Path) -> None:
    s = session_file.load(_record_generation(tiny_int4, "int4", tmp_path, ort=True))
    assert s.ort_profile, "ONNX Runtime's operator profile was recorded"
    out = tmp_path / "trace.json"
    summary = chrome_trace.export(s, out)
    trace = json.loads(out.read_text())
    assert problems(trace) == []
    phases = summary["by_phase"]
    assert phases["B"] == phases["E"] == sum(len(r.spans) for r in s.runs)
    assert phases["i"] >= 24 and phases["C"] > 0 and phases["X"] == len(s.ort_profile)
    events = trace["traceEvents"]
    tokens = [e for e in events if e["ph"] == "i" and e["name"] == "token"]
    assert len(tokens) == 24
    # ONNX Runtime's runs fall inside our generations: same clock (to within 2 ms)
    runs = [e for e in events if e["ph"] == "X" and e["name"] == "model_run"]
    gens = [(b["ts"], e["ts"]) for b, e in _pairs(events, "generation")]
    assert len(runs) == 24 and len(gens) == 2
    for r in runs:
        assert any(lo - 2000 <= r["ts"] and r["ts"] + r["dur"] <= hi + 2000 for lo, hi in gens)
    metrics_csv = tmp_path / "m.csv"
    assert csv_export.write_metrics(s, metrics_csv) == 2
    rows = list(csv.DictReader(metrics_csv.read_text(encoding="utf-8").splitlines()))
    assert float(rows[0]["decode_tok_s"]) == pytest.approx(s.runs[0].metrics["decode_tok_s"])
    samples_csv = tmp_path / "s.csv"
    n = csv_export.write_samples(s, samples_csv)
    assert n == sum(len(x.t) * len(x.channels) for x in s.samples)


def _pairs(events: list[dict], name: str) -> list[tuple[dict, dict]]:
    open_: list[dict] = []
    pairs = []
    for e in events:
        if e.get("name") == name and e["ph"] == "B":
            open_.append(e)
        elif e.get("name") == name and e["ph"] == "E":
            pairs.append((open_.pop(), e))
    return pairs


# ----------------------------------------------------------------- agent-shaped events
# The shape of the agent core's run events (its branch, engine/agent/events.py): each a
# frozen dataclass with a monotonic `t` and a `step`. A scripted run, no model.
@dataclass(frozen=True)
class RunEvent:
    t: float
    step: int


@dataclass(frozen=True)
class RunStarted(RunEvent):
    run_id: str
    task: str


@dataclass(frozen=True)
class PlanStep(RunEvent):
    plan: tuple[str, ...]
    status: str = "planned"
    index: int = -1
    result: str = ""


@dataclass(frozen=True)
class TokenDelta(RunEvent):
    text: str
    phase: str = "step"


@dataclass(frozen=True)
class ToolCall(RunEvent):
    tool: str
    arguments: dict
    valid: bool = True


@dataclass(frozen=True)
class ToolResult(RunEvent):
    tool: str
    ok: bool
    output: str


@dataclass(frozen=True)
class FinalAnswer(RunEvent):
    text: str


@dataclass(frozen=True)
class RunFinished(RunEvent):
    stop_reason: str
    final_answer: str | None


PLAN = ("add", "answer")


def test_agent_events_record_through_the_generic_adapter(tmp_path: Path) -> None:
    clock = iter([100.0, 100.0, 109.0, 109.0]).__next__
    rec = Recorder(name="agent", sampler=HardwareSampler([SystemSource()]), clock=clock)
    rec.start()
    with rec.run("agent run", kind="agent"):
        for ev in [
            RunStarted(100.1, 0, "r1", "add"),
            PlanStep(100.15, 0, PLAN),
            PlanStep(100.2, 1, PLAN, "started", 0),
            ToolCall(100.3, 1, "calculator", {"x": "1+1"}),
            ToolCall(100.4, 1, "search", {"q": "1+"}, valid=False),
            TokenDelta(100.42, 1, "2"),
            ToolResult(100.45, 1, "calculator", True, "2"),  # ends first: paired by tool name
            ToolResult(100.5, 1, "search", False, "error"),
            PlanStep(100.9, 1, PLAN, "done", 0, "2"),
            PlanStep(101.0, 2, PLAN, "started", 1),
            FinalAnswer(101.5, 2, "2"),
            RunFinished(101.6, 2, "final_answer", "2"),
        ]:
            rec.record(ev)
    s = rec.finish()
    run = s.runs[0]
    assert [e.kind for e in run.events][:3] == ["run_begin", "run_started", "plan_step"]
    tools = sorted((sp for sp in run.spans if sp.kind == "tool"), key=lambda sp: sp.start)
    assert [(sp.name, round(sp.ms)) for sp in tools] == [("calculator", 150), ("search", 100)]
    subtasks = [(round(sp.ms), sp.incomplete) for sp in run.spans if sp.kind == "subtask"]
    assert subtasks == [(700, False), (8000, True)]  # the second never said "done": run end
    agent = next(sp for sp in run.spans if sp.kind == "agent_run")
    assert agent.ms == pytest.approx(1500) and not agent.incomplete
    m = run.metrics
    assert [st["step"] for st in m["steps"]] == [0, 1, 2]
    assert [st["tokens"] for st in m["steps"]] == [0, 1, 0]
    assert m["quality"] == {
        "final_answer": "2",
        "tool_calls": 2,
        "tool_calls_valid": 1,
        "errors": 0,
        "stop_reason": "final_answer",
    }
    assert m["durations"]["tool"]["count"] == 2
    trace = chrome_trace.build(s)
    assert problems(trace) == []
    # the two tool calls overlap without nesting: the second goes to a second lane
    lanes = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert lanes == {"run 1: agent run", "run 1: agent run (lane 2)"}
    instants = [e["name"] for e in trace["traceEvents"] if e["ph"] == "i"]
    assert instants == ["plan_step", "token_delta", "final_answer"]  # "planned" is a point


def test_a_run_cut_short_keeps_its_open_spans_matched() -> None:
    rec = Recorder(name="cut", sampler=HardwareSampler([SystemSource()]))
    rec.start()
    with rec.run("agent", kind="agent"):
        rec.record(RunStarted(time.monotonic(), 0, "r1", "x"))
        rec.record(ToolCall(time.monotonic(), 1, "shell", {}))  # no result ever
        time.sleep(0.01)  # the tool call stays open a while before the run is cut
    s = rec.finish()
    open_spans = [sp for sp in s.runs[0].spans if sp.incomplete]
    assert {sp.kind for sp in open_spans} == {"agent_run", "tool"}
    assert all(sp.end == pytest.approx(s.runs[0].end) for sp in open_spans)
    assert problems(chrome_trace.build(s)) == []


def test_recording_something_that_is_not_an_event_is_refused() -> None:
    rec = Recorder(name="x", sampler=HardwareSampler([SystemSource()]))
    rec.start()
    with rec.run("r"), pytest.raises(TypeError, match="monotonic timestamp"):
        rec.record({"t": 1.0})
    rec.finish()
