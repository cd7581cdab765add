"""The plan_execute and reflect strategies, on top of a run's `act` (react is act alone).

A strategy sees the run through `StrategyRun`, the few things it needs: the agent, the
task and hooks, the budget, and the run's own ways to generate, act, number steps and
make events. `engine.agent.run.AgentRun` is one; this module never imports it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any, Protocol

from engine.agent import events as ev
from engine.agent.budget import Budget, BudgetExceeded
from engine.agent.grammar import critique_grammar, parse_critique, parse_plan, plan_grammar
from engine.agent.hooks import Lesson, RunHooks
from engine.agent.model import Message
from engine.agent.prompt import turns
from engine.agent.spec import AgentSpec
from engine.llm.constraints import Grammar


class StrategyRun(Protocol):
    """What a strategy may use of the run it steers."""

    @property
    def spec(self) -> AgentSpec: ...
    @property
    def task(self) -> str: ...
    @property
    def hooks(self) -> RunHooks: ...
    @property
    def budget(self) -> Budget: ...
    @property
    def final(self) -> str | None: ...

    def opening(self, final_label: str) -> list[Message]: ...
    def next_step(self) -> None: ...
    def event(self, cls: type[Any], **fields: Any) -> Any: ...
    def keep_answer(self, answer: str) -> None: ...
    def generate(
        self, messages: list[Message], grammar: Grammar | None, phase: str
    ) -> Generator[ev.AgentEvent, None, str]: ...
    def act(
        self,
        messages: list[Message],
        max_steps: int,
        *,
        final_label: str = "Final Answer",
        first_must_call: bool = False,
        tools_allowed: bool = True,
    ) -> Generator[ev.AgentEvent, None, str | None]: ...


def plan_execute(run: StrategyRun) -> Iterator[ev.AgentEvent]:
    """Plan (an event the edit_plan hook may change), do each subtask, then answer."""
    spec = run.spec.planning
    messages: list[Message] = run.opening("Result")
    messages[-1] = {"role": "user", "content": f"{run.task}\n{turns()['plan_request']}"}
    run.next_step()
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
    yield run.event(ev.PlanStep, plan=tuple(plan), edited=edited)
    for index, subtask in enumerate(plan):
        left = len(plan) - index
        share = (run.budget.steps_left - 1) // left
        if share < 1:
            break  # keep the last step for the answer
        yield run.event(ev.PlanStep, plan=tuple(plan), status="started", index=index)
        messages.append(
            {"role": "user", "content": turns()["plan_step"].format(index=index + 1, text=subtask)}
        )
        result = yield from run.act(messages, share, final_label="Result")
        yield run.event(
            ev.PlanStep, plan=tuple(plan), status="done", index=index, result=result or ""
        )
    messages.append({"role": "user", "content": turns()["synthesize"].format(task=run.task)})
    yield from run.act(messages, 1, tools_allowed=False)


def reflect(run: StrategyRun, messages: list[Message]) -> Iterator[ev.AgentEvent]:
    """One critique of the answer; a `revise` verdict gets one more try with the steps left."""
    answer = run.final or ""
    run.next_step()
    messages.append({"role": "user", "content": turns()["critique"]})
    text = yield from run.generate(messages, critique_grammar(), "reflect")
    critique, lesson, verdict = parse_critique(text)
    messages.append({"role": "assistant", "content": text.strip()})
    yield run.event(ev.Reflection, critique=critique, verdict=verdict, lesson=lesson)
    if lesson and run.hooks.lesson is not None:
        run.hooks.lesson(Lesson(run.spec.name, run.task, answer, critique, lesson))
    if verdict == "revise" and run.budget.steps_left > 0:
        messages.append({"role": "user", "content": turns()["revise"].format(critique=critique)})
        revised = yield from run.act(messages, run.budget.steps_left)
        if revised is None:
            run.keep_answer(answer)  # the first answer stands
