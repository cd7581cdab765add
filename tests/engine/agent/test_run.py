"""The run loop with scripted fake models: every strategy and every error path."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine.agent import events as ev
from engine.agent.hooks import Lesson, MemoryItem, RunHooks, RunRecord
from engine.agent.run import AgentRun
from engine.agent.spec import MemorySpec
from engine.agent.transcript import read_transcript
from engine.errors import PromptTooLongError
from engine.tools.base import ToolRegistry
from tests.helpers.agent_spec import make_spec
from tests.helpers.fake_model import ScriptedModel, call, final


def run_all(run: AgentRun) -> list[Any]:
    return list(run)


def make_run(
    model: ScriptedModel,
    registry: ToolRegistry,
    workspace: Path,
    task: str = "What is 2 + 3?",
    hooks: RunHooks | None = None,
    **planning: Any,
) -> AgentRun:
    # These scripts answer right after a failed call; the retry policy that would make
    # them call again has its own tests (test_correctness.py).
    planning.setdefault("retries_after_error", 0)
    return AgentRun(
        make_spec(**planning),
        model,
        registry,
        task,
        workspace=workspace,
        hooks=hooks,
        transcript=False,
    )


def of(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def test_react_calls_a_tool_then_answers(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([call("add", '{"a": 2, "b": 3}', "I add."), final("5")])
    events = run_all(make_run(model, registry, workspace))
    assert isinstance(events[0], ev.RunStarted)
    assert isinstance(events[-1], ev.RunFinished)
    assert events[-1].stop_reason == "final_answer"
    assert events[-1].final_answer == "5"
    (tool_call,) = of(events, ev.ToolCall)
    assert (tool_call.tool, tool_call.arguments, tool_call.thought) == (
        "add",
        {"a": 2, "b": 3},
        "I add.",
    )
    assert tool_call.valid and tool_call.step == 1
    (result,) = of(events, ev.ToolResult)
    assert result.ok and result.output == "5" and result.step == 1
    (answer,) = of(events, ev.FinalAnswer)
    assert answer.step == 2 and not answer.forced
    times = [e.t for e in events]
    assert times == sorted(times)
    assert (
        "".join(d.text for d in of(events, ev.TokenDelta) if d.step == 2).strip()
        == "Final Answer: 5"
    )
    metrics = events[-1].metrics
    assert (metrics.steps, metrics.tool_calls, metrics.valid_steps, metrics.invalid_steps) == (
        2,
        1,
        2,
        0,
    )
    # The observation reaches the model in the next prompt, and the grammar was built.
    assert "tool: 5" in model.prompts[1]
    assert all(g is not None for g in model.grammars)


@pytest.mark.parametrize(
    ("step", "kind", "problem"),
    [
        (call("multiply", '{"a": 1}'), "unknown_tool", "unknown tool 'multiply'"),
        (call("add", '{"a": "two", "b": 3}'), "invalid_arguments", "a: 'two' is not of type"),
        (call("add", '{"a": 2}'), "invalid_arguments", "'b' is a required property"),
        (call("add", '{"a": 2, "b": '), "invalid_arguments", "not valid JSON"),
        (" I think the answer is 5.", "invalid_step", "expected 'Action: <tool>'"),
        (" Action: add\n", "invalid_arguments", "missing 'Action Input"),
        (" Final Answer:   \n", "invalid_step", "empty"),
    ],
)
def test_an_invalid_step_becomes_an_error_observation(
    registry: ToolRegistry, workspace: Path, step: str, kind: str, problem: str
) -> None:
    model = ScriptedModel([step, final("5")])
    # No retries: the answer may follow the error at once (the retry policy has its own
    # tests in test_correctness.py).
    events = run_all(make_run(model, registry, workspace, retries_after_error=0))
    (bad,) = of(events, ev.ToolCall)
    assert not bad.valid
    assert any(problem in p for p in bad.problems), bad.problems
    (result,) = of(events, ev.ToolResult)
    assert not result.ok and result.error_kind == kind
    assert "tool: Error: " in model.prompts[1]
    assert events[-1].stop_reason == "final_answer"
    assert events[-1].metrics.invalid_steps == 1


def test_tool_exceptions_and_tool_errors_are_observations(
    registry: ToolRegistry, workspace: Path
) -> None:
    model = ScriptedModel(
        [call("boom", '{"text": "x"}'), call("picky", '{"text": "y"}'), final("ok")]
    )
    events = run_all(make_run(model, registry, workspace))
    results = of(events, ev.ToolResult)
    assert [r.error_kind for r in results] == ["failed", "failed"]
    assert "RuntimeError: exploded on x" in results[0].output
    assert results[1].output == "the text must be shorter"
    assert "Error: the text must be shorter" in model.prompts[2]
    assert events[-1].stop_reason == "final_answer"


@pytest.mark.parametrize(
    ("verdict", "ok", "expected"),
    [(True, True, "secret of bob"), (False, False, "refused"), ("not now", False, "not now")],
)
def test_ask_tools_go_through_the_approval_hook(
    registry: ToolRegistry, workspace: Path, verdict: Any, ok: bool, expected: str
) -> None:
    asked: list[str] = []

    def before_call(request: Any) -> Any:
        asked.append(request.tool.name)
        return verdict

    model = ScriptedModel([call("secret", '{"name": "bob"}'), final("done")])
    events = run_all(make_run(model, registry, workspace, hooks=RunHooks(before_call=before_call)))
    (result,) = of(events, ev.ToolResult)
    assert asked == ["secret"]
    assert result.ok is ok and expected in result.output
    if not ok:
        assert result.error_kind == "refused"


def test_without_an_approval_hook_ask_tools_are_refused(
    registry: ToolRegistry, workspace: Path
) -> None:
    model = ScriptedModel([call("secret", '{"name": "bob"}'), final("done")])
    (result,) = of(run_all(make_run(model, registry, workspace)), ev.ToolResult)
    assert result.error_kind == "refused"


def test_deny_tools_are_neither_offered_nor_run(workspace: Path) -> None:
    from engine.tools.base import Tool
    from tests.helpers.agent_tools import add

    registry = ToolRegistry([Tool.from_function(add, approval="deny")])
    model = ScriptedModel([call("add", '{"a": 1, "b": 2}'), final("3")])
    events = run_all(make_run(model, registry, workspace))
    assert "add" not in events[0].tools
    (bad,) = of(events, ev.ToolCall)
    assert not bad.valid and "not allowed" in bad.problems[0]
    assert "Action" not in model.grammars[0].source  # no tool to call: answers only


def test_the_last_step_may_only_answer(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([call("add", '{"a": 1, "b": 1}'), final("2")])
    events = run_all(make_run(model, registry, workspace, max_steps=2))
    assert "Action: add" in model.grammars[0].source
    assert "Action" not in model.grammars[1].source
    (answer,) = of(events, ev.FinalAnswer)
    assert answer.forced
    assert events[-1].stop_reason == "max_steps" and events[-1].final_answer == "2"


def test_max_steps_ends_a_run_that_never_answers(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([call("add", '{"a": 1, "b": 1}')] * 5)
    events = run_all(make_run(model, registry, workspace, max_steps=3))
    assert len(model.prompts) == 3
    assert events[-1].stop_reason == "max_steps"
    assert events[-1].final_answer is None
    assert not of(events, ev.ToolCall)[-1].valid  # the last step had to answer


def test_tool_choice_required_forbids_answering_first(
    registry: ToolRegistry, workspace: Path
) -> None:
    model = ScriptedModel([final("5"), call("add", '{"a": 2, "b": 3}'), final("5")])
    events = run_all(make_run(model, registry, workspace, tool_choice="required"))
    assert "Final Answer" not in model.grammars[0].source
    assert "Final Answer" in model.grammars[1].source
    calls = of(events, ev.ToolCall)
    assert [c.valid for c in calls] == [False, True]
    assert "not allowed at this step" in calls[0].problems[0]
    assert events[-1].stop_reason == "final_answer"


def test_max_tokens_ends_the_run(registry: ToolRegistry, workspace: Path) -> None:
    long_thought = "Thought: " + "hmm " * 40
    model = ScriptedModel([long_thought] * 5)
    events = run_all(make_run(model, registry, workspace, max_tokens=60))
    assert events[-1].stop_reason == "max_tokens"
    assert sum(model.max_new) <= 60 + 192
    assert events[-1].metrics.generated_tokens <= 60


def test_wall_clock_ends_a_slow_generation(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel(["word " * 500], delay=0.01)
    start = time.monotonic()
    events = run_all(make_run(model, registry, workspace, max_seconds=0.3))
    assert time.monotonic() - start < 3
    assert events[-1].stop_reason == "wall_clock"


def test_wall_clock_is_checked_between_steps(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([call("nap", '{"seconds": 0.4}'), final("late")])
    events = run_all(make_run(model, registry, workspace, max_seconds=0.2))
    assert events[-1].stop_reason == "wall_clock"
    assert len(model.prompts) == 1


def test_cancel_before_the_first_step(registry: ToolRegistry, workspace: Path) -> None:
    from engine.progress import CancelToken

    cancel = CancelToken()
    model = ScriptedModel([final("5")])
    run = AgentRun(
        make_spec(), model, registry, "t", workspace=workspace, cancel=cancel, transcript=False
    )
    events = []
    for event in run:
        events.append(event)
        if isinstance(event, ev.RunStarted):
            cancel.cancel()
    assert events[-1].stop_reason == "cancelled"
    assert not model.prompts


def test_cancel_from_another_thread_during_generation(
    registry: ToolRegistry, workspace: Path
) -> None:
    from engine.progress import CancelToken

    cancel = CancelToken()
    model = ScriptedModel(["word " * 1000], delay=0.005)
    run = AgentRun(
        make_spec(), model, registry, "t", workspace=workspace, cancel=cancel, transcript=False
    )
    threading.Timer(0.1, cancel.cancel).start()
    start = time.monotonic()
    events = run_all(run)
    assert time.monotonic() - start < 3
    assert events[-1].stop_reason == "cancelled"
    assert of(events, ev.TokenDelta)


def test_a_workbench_error_from_the_model_is_a_run_error(
    registry: ToolRegistry, workspace: Path
) -> None:
    def too_long(prompt: str) -> str:
        raise PromptTooLongError("the prompt is 9000 tokens")

    model = ScriptedModel([too_long])
    events = run_all(make_run(model, registry, workspace))
    (error,) = of(events, ev.RunError)
    assert error.kind == "PromptTooLongError" and "9000" in error.message
    assert events[-1].stop_reason == "error"


def test_plan_execute_plans_executes_and_answers(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel(
        [
            " Plan:\n1. add the numbers\n2. report the sum\n\n",
            call("add", '{"a": 2, "b": 3}'),
            final("the sum is 5", "Result"),
            final("5 it is", "Result"),
            final("5"),
        ]
    )
    events = run_all(make_run(model, registry, workspace, strategy="plan_execute", max_steps=8))
    plans = of(events, ev.PlanStep)
    assert plans[0].status == "planned" and plans[0].plan == ("add the numbers", "report the sum")
    assert [(p.status, p.index) for p in plans[1:]] == [
        ("started", 0),
        ("done", 0),
        ("started", 1),
        ("done", 1),
    ]
    assert plans[2].result == "the sum is 5"
    assert "Plan:" in model.grammars[0].source
    assert "Do step 2 of the plan: report the sum" in model.prompts[3]
    assert "Action" not in model.grammars[-1].source  # the synthesis only answers
    assert events[-1].stop_reason == "final_answer" and events[-1].final_answer == "5"


def test_the_edit_plan_hook_changes_the_plan(registry: ToolRegistry, workspace: Path) -> None:
    seen: list[tuple[str, ...]] = []

    def edit(plan: Any) -> list[str]:
        seen.append(tuple(plan))
        return ["check the inputs"]

    model = ScriptedModel([" Plan:\n1. a\n2. b\n\n", final("fine", "Result"), final("done")])
    hooks = RunHooks(edit_plan=edit)
    events = run_all(make_run(model, registry, workspace, hooks=hooks, strategy="plan_execute"))
    assert seen == [("a", "b")]
    planned = of(events, ev.PlanStep)[0]
    assert planned.plan == ("check the inputs",) and planned.edited
    assert "Do step 1 of the plan: check the inputs" in model.prompts[1]
    assert events[-1].final_answer == "done"


def test_an_empty_edited_plan_cancels_the_run(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([" Plan:\n1. a\n\n"])
    hooks = RunHooks(edit_plan=lambda plan: [])
    events = run_all(make_run(model, registry, workspace, hooks=hooks, strategy="plan_execute"))
    assert events[-1].stop_reason == "cancelled"


def test_an_unreadable_plan_falls_back_to_the_task(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel(["no plan here", final("r", "Result"), final("5")])
    events = run_all(make_run(model, registry, workspace, strategy="plan_execute"))
    assert of(events, ev.PlanStep)[0].plan == ("What is 2 + 3?",)
    assert events[-1].final_answer == "5"


def test_reflect_revises_and_hands_the_lesson_over(registry: ToolRegistry, workspace: Path) -> None:
    lessons: list[Lesson] = []
    model = ScriptedModel(
        [
            final("6"),
            " Critique: 2 + 3 is not 6\nLesson: compute sums with add\nVerdict: revise\n",
            call("add", '{"a": 2, "b": 3}'),
            final("5"),
        ]
    )
    hooks = RunHooks(lesson=lessons.append)
    events = run_all(make_run(model, registry, workspace, hooks=hooks, strategy="reflect"))
    (reflection,) = of(events, ev.Reflection)
    assert reflection.verdict == "revise" and reflection.lesson == "compute sums with add"
    assert "Critique:" in model.grammars[1].source
    assert [a.text for a in of(events, ev.FinalAnswer)] == ["6", "5"]
    assert events[-1].final_answer == "5" and events[-1].stop_reason == "final_answer"
    assert lessons == [
        Lesson("Tester", "What is 2 + 3?", "6", "2 + 3 is not 6", "compute sums with add")
    ]


def test_reflect_keeps_a_good_answer(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([final("5"), " Critique: correct\nLesson: none\nVerdict: keep\n"])
    events = run_all(make_run(model, registry, workspace, strategy="reflect"))
    assert of(events, ev.Reflection)[0].verdict == "keep"
    assert len(model.prompts) == 2
    assert events[-1].final_answer == "5"


def test_memory_hits_are_events_and_part_of_the_prompt(
    registry: ToolRegistry, workspace: Path
) -> None:
    queries: list[tuple[str, int]] = []

    def retrieve(query: str, k: int) -> list[MemoryItem]:
        queries.append((query, k))
        return [MemoryItem("Bob likes 5.", 0.9, "history"), MemoryItem("x", 0.1), MemoryItem("y")]

    spec = replace(make_spec(), memory=MemorySpec(enabled=True, top_k=2))
    model = ScriptedModel([final("5")])
    run = AgentRun(
        spec,
        model,
        registry,
        "q",
        workspace=workspace,
        hooks=RunHooks(retrieve=retrieve),
        transcript=False,
    )
    events = run_all(run)
    (hit,) = of(events, ev.MemoryHit)  # one retrieval: the one step
    assert queries == [("q", 2)]
    assert hit.step == 1 and hit.query == "q" and hit.text == "Bob likes 5.\nx"
    assert hit.score == 0.9 and hit.source == "history"
    assert [(m.text, m.score, m.source) for m in hit.items] == [
        ("Bob likes 5.", 0.9, "history"),
        ("x", 0.1, ""),
    ]
    assert "Relevant memory:\n- Bob likes 5.\n- x" in model.prompts[0]
    assert "Relevant memory" not in run.system  # the system prompt stays the same each step


def test_memory_off_never_calls_the_hook(registry: ToolRegistry, workspace: Path) -> None:
    def retrieve(query: str, k: int) -> list[MemoryItem]:
        raise AssertionError("memory is off")

    model = ScriptedModel([final("5")])
    events = run_all(make_run(model, registry, workspace, hooks=RunHooks(retrieve=retrieve)))
    assert not of(events, ev.MemoryHit)


def test_after_run_hook_gets_the_record(registry: ToolRegistry, workspace: Path) -> None:
    records: list[RunRecord] = []
    model = ScriptedModel([call("add", '{"a": 2, "b": 3}'), final("5")])
    events = run_all(make_run(model, registry, workspace, hooks=RunHooks(after_run=records.append)))
    (record,) = records
    fields = (record.run_id, record.agent, record.task, record.final_answer, record.stop_reason)
    assert fields == (events[0].run_id, "Tester", "What is 2 + 3?", "5", "final_answer")
    (step,) = record.steps
    assert (step["tool"], step["arguments"], step["ok"], step["output"]) == (
        "add",
        {"a": 2, "b": 3},
        True,
        "5",
    )


def test_unconstrained_runs_pass_no_grammar(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([final("5")])
    run = AgentRun(
        make_spec(), model, registry, "t", workspace=workspace, transcript=False, constrained=False
    )
    assert run_all(run)[-1].final_answer == "5"
    assert model.grammars == [None]


def test_the_transcript_holds_header_and_events(
    registry: ToolRegistry, workspace: Path, tmp_path: Path
) -> None:
    model = ScriptedModel([call("add", '{"a": 2, "b": 3}'), final("5")])
    run = AgentRun(
        make_spec(),
        model,
        registry,
        "What is 2 + 3?",
        workspace=workspace,
        header={"agent_file_sha256": "abc"},
    )
    events = run_all(run)
    path = Path(events[0].transcript)
    assert path.parent.name == "runs" and path.suffix == ".jsonl"
    header, rows = read_transcript(path)
    assert header["agent_file_sha256"] == "abc"
    assert header["model_manifest_sha256"] == "0" * 64
    assert header["sampling"]["seed"] == 7 and header["seed"] == 7
    assert header["provider"] == "cpu" and header["task"] == "What is 2 + 3?"
    assert header["agent"]["name"] == "Tester"
    types = [r["type"] for r in rows]
    assert types == ["RunStarted", "ToolCall", "ToolResult", "FinalAnswer", "RunFinished"]
    assert rows[1]["arguments"] == {"a": 2, "b": 3}
    assert rows[-1]["metrics"]["tool_calls"] == 1


def test_a_run_runs_once(registry: ToolRegistry, workspace: Path) -> None:
    run = make_run(ScriptedModel([final("5")]), registry, workspace)
    run_all(run)
    with pytest.raises(RuntimeError, match="runs once"):
        run_all(run)
