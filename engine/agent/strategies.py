"""The plan_execute and reflect strategies, on top of `AgentRun.act` (react is act alone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from engine.agent import events as ev
from engine.agent.budget import BudgetExceeded
from engine.agent.grammar import critique_grammar, parse_critique, parse_plan, plan_grammar
from engine.agent.hooks import Lesson
from engine.agent.model import Message
from engine.agent.prompt import turns

if TYPE_CHECKING:
    from engine.agent.run import AgentRun


def plan_execute(run: AgentRun) -> Iterator[ev.AgentEvent]:
    """Plan (an event the edit_plan hook may change), do each subtask, then answer."""
    spec = run.spec.planning
    messages: list[Message] = run.opening("Result")
    messages[-1] = {"role": "user", "content": f"{run.task}\n{turns()['plan_request']}"}
    run.step += 1
    text = yield from run.generate(messages, plan_grammar(spec.max_plan_steps), "plan")
    plan = parse_plan(text)[: spec.max_plan_steps] or [run.task]
    edited = False
    if run.hooks.edit_plan is not None:
        changed = run.hooks.edit_plan(tuple(plan))
        if changed is not None:
            new = [str(s).strip() for s in changed if str(s).strip()]
            if not new:
                raise BudgetExceeded("cancelled")  # the person threw the plan away
            edited, plan = new != plan, new
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(plan, 1))
    messages.append({"role": "assistant", "content": f"Plan:\n{numbered}"})
    yield run._event(ev.PlanStep, plan=tuple(plan), edited=edited)
    for index, subtask in enumerate(plan):
        left = len(plan) - index
        share = (run.budget.steps_left - 1) // left
        if share < 1:
            break  # keep the last step for the answer
        yield run._event(ev.PlanStep, plan=tuple(plan), status="started", index=index)
        messages.append(
            {"role": "user", "content": turns()["plan_step"].format(index=index + 1, text=subtask)}
        )
        result = yield from run.act(messages, share, final_label="Result")
        yield run._event(
            ev.PlanStep, plan=tuple(plan), status="done", index=index, result=result or ""
        )
    messages.append({"role": "user", "content": turns()["synthesize"].format(task=run.task)})
    yield from run.act(messages, 1, tools_allowed=False)


def reflect(run: AgentRun, messages: list[Message]) -> Iterator[ev.AgentEvent]:
    """One critique of the answer; a `revise` verdict gets one more try with the steps left."""
    answer = run.final or ""
    run.step += 1
    messages.append({"role": "user", "content": turns()["critique"]})
    text = yield from run.generate(messages, critique_grammar(), "reflect")
    critique, lesson, verdict = parse_critique(text)
    messages.append({"role": "assistant", "content": text.strip()})
    yield run._event(ev.Reflection, critique=critique, verdict=verdict, lesson=lesson)
    if lesson and run.hooks.lesson is not None:
        run.hooks.lesson(Lesson(run.spec.name, run.task, answer, critique, lesson))
    if verdict == "revise" and run.budget.steps_left > 0:
        messages.append({"role": "user", "content": turns()["revise"].format(critique=critique)})
        revised = yield from run.act(messages, run.budget.steps_left)
        if revised is None:
            run.final, run.forced = answer, False  # the first answer stands
