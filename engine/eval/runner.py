"""Run a suite: every task of it, on every variant, sequentially, one model load per variant.

    run = SuiteRun(suite, EvalOptions(agents=("calculator.agent.yaml",)), cancel=token)
    for event in run:            # SuiteStarted, TaskStarted, TaskEvent, TaskFinished, ...
        ...
    run.result                   # the ResultSet, saved after every task run

The caller (the CLI, a window panel through its worker bridge) decides what to do with
the events; progress also goes to a `ProgressCallback` ("eval", done, total), and a
`CancelToken` stops the run between and inside task runs (the task run that was cut
short is not recorded, so a resumed run does it again).

Each task run gets a fresh copy of its workspace fixture and an agent folder of its own
(engine/eval/sandbox.py), and a memory store of its own, so no task sees what another
remembered, unless the task says `memory: suite`: then it shares one store with the
suite's other `memory: suite` tasks of the same variant and repetition, in suite order.
Repetitions are the outer loop, so each repetition replays that order.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import paths
from engine.agent import events as ev
from engine.agent.hooks import RunHooks
from engine.agent.model import StepModel
from engine.agent.spec import AgentSpec
from engine.errors import WorkbenchError
from engine.eval import checks, results
from engine.eval.outcome import collect
from engine.eval.results import ResultSet, Variant
from engine.eval.sandbox import prepare_run_folder
from engine.eval.suitefile import Suite, Task
from engine.eval.variants import ModelPool, Planned, expand
from engine.progress import CancelToken, Progress, ProgressCallback

#: (variant, the agent spec of the run) -> the model to run it on. The default loads each
#: variant's prepared model once (ModelPool); tests and the window may bring their own.
OpenModel = Callable[[Variant, AgentSpec], StepModel]


class EvalError(WorkbenchError):
    """A suite run cannot start or go on (a resumed run that no longer matches, ...)."""


@dataclass(frozen=True)
class EvalOptions:
    """What `eval run` was asked: stored in the result set, so `eval resume` needs nothing
    else. Empty `agents`: the suite's own `agent`; empty models / providers: each agent
    file's; empty quants: each model as named."""

    agents: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    quants: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    repeat: int | None = None  # None: the suite's
    tasks: tuple[str, ...] = ()  # only these task ids (empty: all)
    approve: str = "deny"  # for tools with approval `ask`: auto | deny (nobody to ask)
    trust: bool = False  # trust the agent files' items (engine.agent.trust), as --trust
    judge: bool = False  # apply model-judged checks
    judge_model: str | None = None  # default judge (a check's own `model` wins)
    unconstrained: bool = False
    max_steps: int | None = None
    max_tokens: int | None = None
    max_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalOptions:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known
        }
        return cls(**values)


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True)
class EvalEvent:
    t: float  # time.monotonic()


@dataclass(frozen=True)
class SuiteStarted(EvalEvent):
    path: str  # the result set's file
    suite: str
    variants: tuple[str, ...]  # labels
    total: int  # task runs in all
    done: int  # task runs already in the result set (a resumed run)


@dataclass(frozen=True)
class VariantStarted(EvalEvent):
    key: str
    label: str


@dataclass(frozen=True)
class TaskStarted(EvalEvent):
    variant: str
    task: str
    repeat: int
    index: int  # this task run's number, 1-based, of `total`
    total: int


@dataclass(frozen=True)
class TaskEvent(EvalEvent):
    """An event of the running task's agent run (tokens, tool calls, ...)."""

    variant: str
    task: str
    event: ev.RunEvent


@dataclass(frozen=True)
class TaskFinished(EvalEvent):
    record: dict[str, Any]  # the task run as stored in the result set
    index: int
    total: int


@dataclass(frozen=True)
class SuiteFinished(EvalEvent):
    status: str  # complete | cancelled
    path: str
    summaries: dict[str, dict[str, Any]]  # variant key -> engine.eval.stats.summary


# ---------------------------------------------------------------------------- the run
class SuiteRun:
    """A suite run as a generator of events (iterate it once). `resume`: a result set of
    the same suite and variants; its finished task runs are kept and not run again."""

    def __init__(
        self,
        suite: Suite,
        options: EvalOptions,
        *,
        open_model: OpenModel | None = None,
        judge: checks.Judge | None = None,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
        notice: Callable[[str], None] = lambda text: None,
        machine: dict[str, Any] | None = None,
        resume: ResultSet | None = None,
        out: Path | None = None,
    ) -> None:
        agents = options.agents or ((str(suite.agent),) if suite.agent else ())
        options = replace(options, agents=tuple(str(Path(a).resolve()) for a in agents))
        self.suite, self.options = suite, options
        self.cancel = cancel or CancelToken()
        self.progress, self.notice = progress, notice
        self._pool = ModelPool()
        self._open_model = open_model or self._pooled
        self.judge = judge
        if judge is None and options.judge:
            from engine.eval.judge import model_judge

            self.judge = model_judge(self._judge_model)
        if not options.agents:
            raise EvalError(
                f"the suite {suite.name!r} names no agent: give one (eval run AGENT SUITE) "
                "or add `agent:` to the suite file"
            )
        self.planned = expand(
            options.agents,
            options.models,
            options.quants,
            options.providers,
            need_prepared=open_model is None,
        )
        self.tasks = self._tasks()
        repeat = options.repeat or suite.repeat
        self.result = resume or ResultSet(
            name=suite.name,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            suite={
                "path": str(suite.path.resolve()) if suite.path else None,
                "name": suite.name,
                "sha256": suite.sha256,
                "repeat": repeat,
                "tasks": [t.id for t in self.tasks],
            },
            variants=[p.variant for p in self.planned],
            options=options.to_dict(),
            machine=machine or {},
        )
        if resume is not None:
            self._check_resume(resume)
        self.result.path = out or self.result.path or results.default_path(self.result)
        # Task runs' folders (agent + workspace copies, memory stores) live among the data
        # home's agents, the one place there an agent's workspace may be (engine.agent.places).
        self.work = paths.agents_dir() / ".evals" / (self.result.path.name + ".work")

    def _tasks(self) -> list[Task]:
        if not self.options.tasks:
            return list(self.suite.tasks)
        return [self.suite.task(task_id) for task_id in self.options.tasks]

    def _check_resume(self, old: ResultSet) -> None:
        where = old.path or old.name
        if old.suite.get("sha256") != self.suite.sha256:
            raise EvalError(
                f"{where}: the suite file changed since this run started (sha256 "
                f"{str(old.suite.get('sha256'))[:12]} -> {self.suite.sha256[:12]}); "
                "start a new run with `eval run`"
            )
        now = [(p.variant.agent["sha256"], p.variant.model["folder"]) for p in self.planned]
        then = [(v.agent["sha256"], v.model["folder"]) for v in old.variants]
        if now != then:
            raise EvalError(
                f"{where}: the agent files or models changed since this run started; "
                "start a new run with `eval run`"
            )
        self.planned = [
            Planned(v, p.agent) for v, p in zip(old.variants, self.planned, strict=True)
        ]

    def _judge_model(self, name: str | None) -> StepModel:
        """The judge: the check's model, else --judge-model, else the first variant's
        model (a model judging its own answers is lenient: docs/evaluation.md)."""
        from engine.agent.spec import AgentSpec
        from engine.eval.variants import describe_model

        name = name or self.options.judge_model
        folder = (
            describe_model(name, None)["folder"]
            if name
            else self.planned[0].variant.model["folder"]
        )
        return self._pool.model(folder, None, AgentSpec(name="judge", goals=("judge",)))

    def _pooled(self, variant: Variant, spec: AgentSpec) -> StepModel:
        return self._pool.model(variant.model["folder"], variant.provider, spec)

    def __iter__(self) -> Iterator[EvalEvent]:
        result = self.result
        total = result.total_runs
        done = result.done()
        index = len(done)
        result.status = "running"
        results.save(result)
        yield SuiteStarted(
            time.monotonic(),
            str(result.path),
            result.suite["name"],
            tuple(v.label for v in result.variants),
            total,
            len(done),
        )
        status = "complete"
        try:
            for plan in self.planned:
                variant = plan.variant
                yield VariantStarted(time.monotonic(), variant.key, variant.label)
                for repeat in range(result.repeat):
                    for task in self.tasks:
                        if (variant.key, task.id, repeat) in done:
                            continue
                        if self.cancel.cancelled:
                            raise _Stop
                        index += 1
                        self._report(index - 1, total, f"{variant.key} {task.id}")
                        yield TaskStarted(
                            time.monotonic(), variant.key, task.id, repeat, index, total
                        )
                        record = yield from self._run_task(plan, task, repeat)
                        if record is None:  # cancelled inside the run: not recorded
                            raise _Stop
                        result.runs.append(record)
                        results.save(result)
                        self._report(index, total, f"{variant.key} {task.id}")
                        yield TaskFinished(time.monotonic(), record, index, total)
        except _Stop:
            status = "cancelled"
        finally:
            self._pool.close()
            if status == "complete" and len(result.runs) >= total:
                result.status = "complete"
                shutil.rmtree(self.work, ignore_errors=True)
            else:
                result.status = "cancelled" if status == "cancelled" else "running"
            result.finished = datetime.now(UTC).isoformat(timespec="seconds")
            results.save(result)
        yield SuiteFinished(
            time.monotonic(),
            result.status,
            str(result.path),
            {v.key: result.summary(v) for v in result.variants},
        )

    def _report(self, done: int, total: int, message: str) -> None:
        if self.progress is not None:
            self.progress(Progress("eval", done, total, message, time.monotonic()))

    def _run_task(
        self, plan: Planned, task: Task, repeat: int
    ) -> Iterator[EvalEvent] | Any:  # a generator returning the record (None: cancelled)
        from engine.agent.prepared import RunOptions, prepared_run

        variant, o = plan.variant, self.options
        folder = self.work / "runs" / f"{variant.key}-{task.id}-{repeat}"
        fixture = task.workspace or self.suite.workspace
        agent, workspace = prepare_run_folder(plan.agent, folder, fixture)
        shared = task.memory == "suite"
        store = f"{variant.key}-r{repeat}-suite" if shared else f"{variant.key}-{task.id}-r{repeat}"
        memory_path = self.work / "memory" / store
        if not shared:
            shutil.rmtree(memory_path, ignore_errors=True)  # a re-run starts empty too
        options = RunOptions(
            approve=o.approve,
            trust=o.trust,
            workspace=str(workspace),
            unconstrained=o.unconstrained,
            max_steps=o.max_steps,
            max_tokens=o.max_tokens,
            max_seconds=o.max_seconds,
        )
        collected: list[ev.RunEvent] = []
        started = time.time()
        try:
            with prepared_run(
                agent,
                task.input,
                options,
                hooks=RunHooks(before_call=_approval(o.approve)),
                cancel=self.cancel,
                notice=self.notice,
                open_model=lambda spec: self._open_model(variant, spec),
                memory_path=memory_path,
            ) as prepared:
                for event in prepared.run:
                    collected.append(event)
                    yield TaskEvent(time.monotonic(), variant.key, task.id, event)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        outcome = collect(collected)
        if outcome.stop_reason == "cancelled" or self.cancel.cancelled:
            return None
        applied = checks.apply(task.checks, outcome, task.input, self.judge)
        calls = [
            {
                "tool": c.tool,
                "arguments": c.arguments,
                "valid": c.valid,
                "accepted": c.accepted,
                "error_kind": c.error_kind,
            }
            for c in outcome.tool_calls
        ]
        return {
            "variant": variant.key,
            "task": task.id,
            "repeat": repeat,
            "passed": checks.passed(applied),
            "checks": [c.to_dict() for c in applied],
            "answer": outcome.answer,
            "stop_reason": outcome.stop_reason,
            "steps": outcome.steps,
            "tool_calls": calls,
            "prompt_tokens": outcome.prompt_tokens,
            "generated_tokens": outcome.generated_tokens,
            "ttft_ms": outcome.ttft_ms,
            "latency_ms": outcome.latency_ms,
            "started": started,
            "transcript": outcome.transcript,
            "run_id": outcome.run_id,
            "model": outcome.model,
            "errors": outcome.errors,
            "spans": outcome.spans,
        }


class _Stop(Exception):
    """The person cancelled: leave the loops, keep what finished."""


def _approval(mode: str) -> Callable[[Any], bool | str]:
    """Tools with approval `ask` during an evaluation: nobody is there to ask."""
    if mode == "auto":
        return lambda request: True
    return lambda request: (
        "refused: nobody approves tool calls during an evaluation (--approve auto)"
    )
