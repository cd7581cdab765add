"""A suite run in a worker: the body the Evaluation panel hands to `gui.bridge.Worker`.

`run_suite(state, request, models)` first asks the trust question's question: an agent
file with trust items (engine.agent.trust) that the person has not trusted makes it
return `gui.agent_job.NeedsTrust` before anything runs (the panel then asks with the run
console's `TrustDialog` and starts again). Otherwise it iterates `engine.eval.runner.
SuiteRun` itself and emits every event with `state.emit` (SuiteStarted, TaskStarted,
TaskEvent, TaskFinished, SuiteFinished, and `Progress`), so that Cancel ends the run
through its cancel token and the run still ends with `SuiteFinished(status="cancelled")`
and a saved result set holding the finished task runs.

The model: `session_variant_models(holder)` opens each variant's model through the
window's one loaded session (`gui.sessions.SessionHolder`), the way the run console does,
and the run holds the holder busy: the window keeps one copy of the weights, and a suite
and a console run never share a KV cache at once (the second is refused with a message).
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.agent.model import SessionModel, StepModel
from engine.agent.spec import AgentSpec
from engine.errors import ModelError
from engine.eval.results import ResultSet, Variant
from engine.eval.runner import EvalOptions
from engine.manifest import is_prepared, model_folder
from gui.agent_job import NeedsTrust, RunRequest, trust_lines
from gui.bridge import TaskState, report
from gui.sessions import SessionHolder

#: (variant, the agent spec of the task run) -> the model (engine.eval.runner.OpenModel)
VariantModels = Callable[[Variant, AgentSpec], StepModel]


@dataclass(frozen=True)
class SuiteRequest:
    suite: Path
    agents: tuple[Path, ...] = ()  # empty: the suite's own `agent`
    models: tuple[str, ...] = ()  # empty: each agent file's
    approve_all: bool = False  # tools with approval `ask` run without asking (approve=auto)
    trusted: frozenset[str] = frozenset()  # `trust.trust_key`s the person trusted


def session_variant_models(holder: SessionHolder) -> VariantModels:
    """Each variant's model through the window's loaded session (reused when it matches)."""

    def open_model(variant: Variant, spec: AgentSpec) -> StepModel:
        folder = variant.model.get("folder") or spec.model.name
        if not is_prepared(model_folder(folder)):
            raise ModelError(
                f"no prepared model {variant.model.get('name') or folder!r} (looked in "
                f"{folder}): prepare it in the Models panel, or name another in Models"
            )
        session = holder.load(folder, variant.provider or spec.model.provider)
        return SessionModel(session, spec.model.sampling)

    open_model.holder = holder  # type: ignore[attr-defined]  # run_suite holds it busy
    return open_model


def agent_paths(request: SuiteRequest) -> tuple[Path, ...]:
    """The agent files the run uses: the request's, else the suite's own `agent`."""
    if request.agents:
        return request.agents
    from engine.eval.suitefile import load

    suite = load(request.suite)
    return (suite.agent,) if suite.agent else ()


def trust_check(request: SuiteRequest) -> tuple[NeedsTrust | None, bool]:
    """(the first agent file with trust items the person has not trusted, or None;
    whether any agent file has trust items: then the run is asked with `trust`)."""
    from engine.agent.agentfile import load
    from engine.agent.trust import trust_items, trust_key
    from engine.tools.entries import untrusted_message

    any_items = False
    for path in agent_paths(request):
        agent = load(path)
        items = trust_items(agent)
        any_items = any_items or bool(items)
        if items and trust_key(agent) not in request.trusted:
            message = untrusted_message(items, f"{path} reaches outside its folder")
            needs = NeedsTrust(
                RunRequest(path, f"suite {request.suite.name}"),
                agent.sha256,
                trust_lines(items),
                message,
                trust_key(agent),
            )
            return needs, True
    return None, any_items


def options_for(request: SuiteRequest, trust: bool) -> EvalOptions:
    """What the run is asked, as `eval run` would be (stored in the result set)."""
    return EvalOptions(
        agents=tuple(str(a) for a in request.agents),
        models=request.models,
        approve="auto" if request.approve_all else "deny",
        trust=trust,
    )


def run_suite(
    state: TaskState, request: SuiteRequest, models: VariantModels
) -> str | NeedsTrust | None:
    """Worker body: the result set's path, or NeedsTrust. Errors raise (the worker reports)."""
    from engine.eval.runner import SuiteFinished, SuiteRun
    from engine.eval.suitefile import load
    from engine.telemetry.machine import cpu_model

    needs, trust = trust_check(request)
    if needs is not None:
        return needs
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()}
    run = SuiteRun(
        load(request.suite),
        options_for(request, trust),
        open_model=models,
        cancel=state.cancel,
        progress=state.emit,
        notice=lambda text: report("info", text.strip()),
        machine=machine,
    )
    # the table's layout (tasks x runs), as a copy: the run goes on changing its own
    layout = ResultSet.from_dict({**run.result.to_dict(), "runs": list(run.result.runs)})
    layout.path = run.result.path
    state.emit(layout)
    holder = getattr(models, "holder", None)
    path = None
    with holder.busy("a suite run in the Evaluation panel") if holder else contextlib.nullcontext():
        for event in run:
            state.emit(event)
            if isinstance(event, SuiteFinished):
                path = event.path
    return path
