"""An agent run recorded on a scripted clock: every per-step duration is known exactly.

The model, the tool, the retrieve hook and the edit_plan hook move a fake monotonic clock
by fixed, binary-exact amounts; the run loop and the recorder read the same clock. So the
recorded spans and RunMetrics can be checked with `==`, not approximately.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine.agent import events as ev
from engine.agent.hooks import MemoryItem, RunHooks
from engine.agent.report import summarize
from engine.agent.run import AgentRun
from engine.agent.spec import MemorySpec
from engine.llm.events import GenerationFinished, GenerationStats, TokenDelta
from engine.llm.sampling import SamplingParams
from engine.telemetry import chrome_trace, session_file
from engine.telemetry.compare import compare, format_table
from engine.telemetry.recorder import Recorder
from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.sources import SystemSource
from engine.telemetry.summary import format_summary
from engine.telemetry.trace_check import problems
from engine.tools.base import Tool, ToolRegistry
from tests.helpers.agent_spec import make_spec
from tests.helpers.fake_model import call, final

PREFILL, GAP = 0.125, 0.015625  # seconds: to the first token, between tokens
TOOL, RETRIEVE, EDIT = 0.25, 0.0625, 0.5  # the tool, the retrieve hook, the edit_plan hook
PREPARE = 0.03125  # the first generation's setup before the engine starts (a grammar's)


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.monotonic()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ClockModel:
    """Streams each scripted text word by word: PREFILL to the first token, GAP after."""

    name, provider, context_length, manifest_hash = "clock", "cpu", 4096, "0" * 64

    def __init__(self, clock: Clock, outputs: Sequence[str]) -> None:
        self.clock, self.outputs = clock, list(outputs)
        self.sampling = SamplingParams(seed=1)
        self.setup = [PREPARE]

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt: str, **_: Any) -> Iterator[TokenDelta | GenerationFinished]:
        text = self.outputs.pop(0)
        if self.setup:
            self.clock.advance(self.setup.pop())
        words = text.split(" ")
        pieces = [w + " " for w in words[:-1]] + words[-1:]
        start = self.clock()
        self.clock.advance(PREFILL)
        first = self.clock()
        for i, piece in enumerate(pieces):
            if i:
                self.clock.advance(GAP)
            # a blank piece streams as an empty delta (as an unfinished multi-byte character)
            yield TokenDelta(piece if piece.strip() else "", i, i, self.clock())
        end, n = self.clock(), len(pieces)
        stats = GenerationStats(
            provider="cpu",
            prompt_tokens=self.count_tokens(prompt),
            cached_tokens=0,
            new_tokens=n,
            ttft_ms=(first - start) * 1000,
            prefill_ms=(first - start) * 1000,
            prefill_tok_s=self.count_tokens(prompt) / (first - start),
            decode_ms=(end - first) * 1000,
            decode_tok_s=(n - 1) / (end - first),
            token_latencies_ms=(GAP * 1000,) * (n - 1),
            t_start=start,
            t_first_token=first,
            t_end=end,
        )
        yield GenerationFinished(text, tuple(range(n)), "grammar", stats, end)


SCRIPT = [  # each text's first token is blank: streamed as an empty delta
    " Plan:\n1. add the numbers\n\n",  # step 1, plan: 5 tokens
    call("work", '{"x": 5}'),  # step 2: 6 tokens, then the tool
    final("5", "Result"),  # step 3: 3 tokens, the subtask's result
    final("5"),  # step 4: 4 tokens, the answer
]


def gen_ms(tokens: int) -> float:
    return (PREFILL + (tokens - 1) * GAP) * 1000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The run loop's clock (and the recorder's, below)."""
    fake = Clock()
    monkeypatch.setattr(
        "engine.agent.run.time",
        SimpleNamespace(monotonic=fake, strftime=time.strftime, gmtime=time.gmtime),
    )
    return fake


def record(clock: Clock, run: AgentRun) -> tuple[list[Any], Any]:
    rec = Recorder(name="clock", sampler=HardwareSampler([SystemSource()]), clock=clock)
    rec.start()
    with rec.run("agent clock", kind="agent"):
        events = list(rec.watch(run))
    return events, rec.finish()


@pytest.fixture
def recorded(clock: Clock, tmp_path: Path) -> tuple[list[Any], Any]:
    def work(x: int) -> str:
        """Work on a number for a while.

        Args:
            x: the number
        """
        clock.advance(TOOL)
        return str(x)

    def retrieve(query: str, top_k: int) -> list[MemoryItem]:
        clock.advance(RETRIEVE)
        return [MemoryItem("2 + 3 is 5", 0.9, "notes")]

    def edit_plan(plan: Any) -> None:
        clock.advance(EDIT)  # the person reads the plan and keeps it

    spec = make_spec(strategy="plan_execute", max_steps=4)
    spec = replace(spec, memory=MemorySpec(enabled=True, top_k=1))
    run = AgentRun(
        spec,
        ClockModel(clock, SCRIPT),
        ToolRegistry([Tool.from_function(work)]),
        "What is 2 + 3?",
        workspace=tmp_path,
        hooks=RunHooks(retrieve=retrieve, edit_plan=edit_plan),
        transcript=False,
    )
    return record(clock, run)


def test_the_run_yields_one_timing_per_generation(recorded: tuple[list[Any], Any]) -> None:
    events, _ = recorded
    timed = [e for e in events if isinstance(e, ev.GenerationTimed)]
    assert [(g.step, g.phase, g.stats.new_tokens) for g in timed] == [
        (1, "plan", 5),
        (2, "step", 6),
        (3, "step", 3),
        (4, "step", 4),
    ]
    assert all(g.stats.ttft_ms == PREFILL * 1000
               and g.stats.t_first_token - g.stats.t_start == PREFILL for g in timed)  # fmt: skip
    assert timed[1].stats.token_latencies_ms == (GAP * 1000,) * 5
    # each comes after its generation's tokens and before what the step did with the text
    kinds = [type(e).__name__ for e in events if not isinstance(e, ev.TokenDelta)]
    assert kinds[kinds.index("ToolCall") - 1] == "GenerationTimed"
    assert [g.stats.t_start - g.requested_t for g in timed] == [PREPARE, 0, 0, 0]
    query = next(e for e in events if isinstance(e, ev.MemoryQuery))
    assert (query.hits, query.top_k, query.t - query.started_t) == (1, 1, RETRIEVE)
    # the agent's own consumers are unchanged: --json steps, RunFinished metrics
    out = summarize(events)
    assert [s["kind"] for s in out["steps"]] == ["tool", "final"] and out["final_answer"] == "5"
    assert events[-1].metrics.ttft_ms == (PREFILL * 1000,) * 4


def test_per_step_durations_are_exact(recorded: tuple[list[Any], Any]) -> None:
    _, session = recorded
    m = session.runs[0].metrics
    steps = {st["step"]: st for st in m["steps"]}
    # memory is looked up before every generation of a step or the plan (not at step 0)
    assert (steps[0]["ms"], steps[0]["parts_ms"]) == (0.0, {})
    r = RETRIEVE * 1000
    plan = gen_ms(5)
    assert steps[1] == {
        "step": 1,
        "ms": r + PREPARE * 1000 + plan + EDIT * 1000,
        "tokens": 5,  # its first token was empty text (no token event), it still counts
        "phase": "plan",
        "parts_ms": {
            "decode": 4 * GAP * 1000,
            "generation": plan,
            "planning": plan + EDIT * 1000,  # the plan's generation and the edit_plan hook
            "prefill": PREFILL * 1000,
            "prepare": PREPARE * 1000,
            "retrieval": r,
        },
        "tools": [],
    }
    assert steps[2] == {
        "step": 2,
        "ms": r + gen_ms(6) + TOOL * 1000,
        "tokens": 6,
        "phase": "step",
        "parts_ms": {
            "decode": 5 * GAP * 1000,
            "generation": gen_ms(6),
            "prefill": PREFILL * 1000,
            "retrieval": r,
            "tool": TOOL * 1000,
        },
        "tools": ["work"],
    }
    assert (steps[3]["ms"], steps[3]["tokens"]) == (r + gen_ms(3), 3)
    assert (steps[4]["ms"], steps[4]["tokens"]) == (r + gen_ms(4), 4)
    total = (4 * RETRIEVE + PREPARE + EDIT + TOOL) * 1000 + plan + gen_ms(6) + gen_ms(3) + gen_ms(4)
    assert m["durations"]["agent_run"]["max_ms"] == total
    assert m["durations"]["subtask"]["max_ms"] == 2 * r + gen_ms(6) + TOOL * 1000 + gen_ms(3)


def test_generation_metrics_of_an_agent_run(recorded: tuple[list[Any], Any]) -> None:
    _, session = recorded
    m = session.runs[0].metrics
    assert (m["generations"], m["new_tokens"], m["ttft_ms"]) == (4, 18, PREFILL * 1000)
    assert m["inter_token"]["count"] == 14 and m["inter_token"]["p99_ms"] == GAP * 1000
    assert m["decode_tok_s"] == 14 / (14 * GAP)  # every gap is GAP
    assert m["ttft"]["count"] == 4 and m["ttft"]["p50_ms"] == PREFILL * 1000
    gens = m["per_generation"]
    assert [(g["step"], g["phase"], g["ms"]) for g in gens] == [
        (1, "plan", gen_ms(5)),
        (2, "step", gen_ms(6)),
        (3, "step", gen_ms(3)),
        (4, "step", gen_ms(4)),
    ]
    assert gens[1]["decode_tok_s"] == 1 / GAP and gens[1]["inter_token"]["p50_ms"] == GAP * 1000
    assert m["quality"] == {"final_answer": "5", "tool_calls": 1, "tool_calls_valid": 1,
                            "errors": 0, "stop_reason": "final_answer"}  # fmt: skip


def test_an_agent_session_saves_loads_and_exports(
    recorded: tuple[list[Any], Any], tmp_path: Path
) -> None:
    _, session = recorded
    path = session_file.save(session, tmp_path / "clock.awprof.json")
    loaded = session_file.load(path)
    assert loaded.runs[0].metrics == session.runs[0].metrics
    trace = chrome_trace.build(loaded)
    assert problems(trace) == []
    run_events = [e for e in trace["traceEvents"] if e["pid"] == chrome_trace.RUNS_PID]
    begun = {(e["cat"], e["name"]) for e in run_events if e["ph"] == "B"}
    assert {
        ("agent_run", "agent_run"),
        ("generation", "generate:plan"),
        ("generation", "generate:step"),
        ("planning", "planning"),
        ("prepare", "prepare"),
        ("retrieval", "retrieval"),
        ("subtask", "subtask"),
        ("tool", "work"),
        ("step", "step 2"),
    } <= begun
    instants = [e["name"] for e in run_events if e["ph"] == "i"]
    assert instants.count("token_delta") == 14  # the four empty first tokens have no text
    assert {"memory_hit", "plan_step", "final_answer"} <= set(instants)
    threads = [e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"]
    assert threads[0] == "run 1: agent clock"


def test_sessions_recorded_before_agent_profiling_still_show_and_compare(
    recorded: tuple[list[Any], Any],
) -> None:
    _, session = recorded
    new = copy.deepcopy(session)
    old = copy.deepcopy(session)
    m = old.runs[0].metrics
    for key in ("ttft", "per_generation"):
        del m[key]
    del m["quality"]["stop_reason"]
    m["steps"] = [{k: st[k] for k in ("step", "ms", "tokens")} for st in m["steps"]]
    text = format_summary(old)
    assert "step 2: " in text and "generation (step" not in text
    result = compare(old, new)
    rows = {r["metric"]: r for r in result["metrics"]}
    assert rows["ttft.p50_ms"]["a"] is None and rows["ttft.p50_ms"]["b"] == PREFILL * 1000
    assert "stopped A None, B final_answer" in format_table(result)


def test_a_reflection_is_its_own_generation(clock: Clock, tmp_path: Path) -> None:
    critique = " Critique: correct\nLesson: none\nVerdict: keep\n"  # 5 tokens
    run = AgentRun(
        make_spec(strategy="reflect", max_steps=2),
        ClockModel(clock, [final("5"), critique]),
        ToolRegistry([]),
        "What is 2 + 3?",
        workspace=tmp_path,
        transcript=False,
    )
    _, session = record(clock, run)
    m = session.runs[0].metrics
    assert [(g["step"], g["phase"], g["ms"]) for g in m["per_generation"]] == [
        (1, "step", gen_ms(4)),
        (2, "reflect", gen_ms(5)),
    ]
    assert [(st["step"], st["phase"]) for st in m["steps"]] == [
        (0, ""),
        (1, "step"),
        (2, "reflect"),
    ]
    names = {sp.name for sp in session.runs[0].spans if sp.kind == "generation"}
    assert names == {"generate:step", "generate:reflect"}
