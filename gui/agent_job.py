"""One agent run in a worker: the body the run console hands to `gui.bridge.Worker`.

`run_agent(state, request, gate, models)` loads the agent file, opens its model, wires
the run's hooks to `HookGate` (approval and plan editing are asked in the GUI thread
while the worker waits) and emits every event with `state.emit`: the run's own events
(engine.agent.events) and, through `TeeModel`, the raw generation events
(engine.llm.events) for the profiler. It iterates the run itself instead of handing a
generator to the worker, so that Stop ends the run through its cancel token and the run
still finishes with `RunFinished(stop_reason="cancelled")` and a complete transcript.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.agent.model import SessionModel, StepModel
from engine.agent.spec import AgentSpec
from engine.errors import ModelError
from engine.llm.events import GenerationEvent
from engine.manifest import is_prepared, model_folder
from engine.progress import CancelToken
from engine.tools.base import ToolCallRequest
from engine.tools.entries import TrustItem
from engine.tools.errors import UntrustedToolsError
from gui.bridge import TaskState, report
from gui.sessions import SessionHolder

#: The answer of an approval dialog that also stops the run.
STOP = "stop"
#: Polling interval of a worker waiting for the person (so Stop always releases it).
WAIT_S = 0.05

ModelFactory = Callable[[AgentSpec], StepModel]


@dataclass(frozen=True)
class RunRequest:
    agent_path: Path
    task: str
    trusted: frozenset[str] = frozenset()  # `trust.trust_key`s the person trusted


@dataclass(frozen=True)
class NeedsTrust:
    """The worker's result when the file has trust items (engine.agent.trust) and its
    content (`sha256`) was not trusted: `items`, one line each, for the trust question."""

    request: RunRequest
    sha256: str
    items: tuple[str, ...]
    message: str
    key: str  # engine.agent.trust.trust_key: the content hash and the file's folder


@dataclass(frozen=True)
class Approval:
    """What the approval dialog shows."""

    tool: str
    description: str
    approval: str
    arguments: dict[str, Any]


class Pending:
    """A question from the worker; the GUI thread answers it once."""

    def __init__(self, kind: str, payload: object, default: object) -> None:
        self.kind = kind  # "approve" | "plan"
        self.payload = payload
        self.default = default  # the answer if the run is stopped first
        self.value: object = default
        self._event = threading.Event()

    def answer(self, value: object) -> None:
        if not self._event.is_set():
            self.value = value
            self._event.set()

    @property
    def answered(self) -> bool:
        return self._event.is_set()

    def wait(self, cancel: CancelToken) -> object:
        while not self._event.wait(WAIT_S):
            if cancel.cancelled:
                return self.default
        return self.value


class HookGate(QObject):
    """Hooks for the run that ask the GUI thread (`asked`) and block until answered."""

    asked = Signal(object)  # Pending

    def before_call(
        self, cancel: CancelToken, flush: Callable[[], None] = lambda: None
    ) -> Callable[[ToolCallRequest], bool | str]:
        """The approval hook; `flush` first sends what the worker holds back (the step's
        last tokens), so the console shows the whole step behind the question."""

        def ask(request: ToolCallRequest) -> bool | str:
            tool = request.tool
            payload = Approval(tool.name, tool.description, tool.approval, dict(request.arguments))
            pending = Pending("approve", payload, STOP)
            flush()
            self.asked.emit(pending)
            verdict = pending.wait(cancel)
            if verdict == STOP:
                cancel.cancel()
                return "the person stopped the run"
            return verdict if isinstance(verdict, str) else bool(verdict)

        return ask

    def edit_plan(
        self, cancel: CancelToken, flush: Callable[[], None] = lambda: None
    ) -> Callable[[Sequence[str]], Sequence[str] | None]:
        def edit(plan: Sequence[str]) -> Sequence[str] | None:
            pending = Pending("plan", tuple(plan), ())
            flush()
            self.asked.emit(pending)
            value = pending.wait(cancel)
            return None if value is None else list(value)  # type: ignore[call-overload]

        return edit


class TeeModel:
    """A StepModel that hands every raw generation event to `sink` on its way through."""

    def __init__(self, model: StepModel, sink: Callable[[object], None]) -> None:
        self.model = model
        self.sink = sink
        self.name, self.provider = model.name, model.provider
        self.context_length, self.manifest_hash = model.context_length, model.manifest_hash
        self.sampling = model.sampling

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        return self.model.render(messages)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def generate(self, prompt: str, **kwargs: Any) -> Iterator[GenerationEvent]:
        for event in self.model.generate(prompt, **kwargs):
            self.sink(event)
            yield event


def session_models(holder: SessionHolder) -> ModelFactory:
    """Open the agent's model through the window's one loaded session (reused if it matches)."""

    def open_model(spec: AgentSpec) -> StepModel:
        folder = model_folder(spec.model.name)
        if not is_prepared(folder):
            raise ModelError(
                f"no prepared model {spec.model.name!r} (looked in {folder}): prepare it in the "
                "Models panel, or set model.name in the agent file"
            )
        session = holder.load(spec.model.name, spec.model.provider)
        return SessionModel(session, spec.model.sampling)

    open_model.holder = holder  # type: ignore[attr-defined]  # run_agent holds it busy
    return open_model


def trust_lines(items: Sequence[TrustItem]) -> tuple[str, ...]:
    """What the trust question shows: one line per trust item (`engine.agent.trust`)."""
    return tuple(item.text for item in items)


def run_agent(
    state: TaskState, request: RunRequest, gate: HookGate, models: ModelFactory
) -> str | NeedsTrust:
    """Worker body: the run's stop reason, or NeedsTrust. Errors raise (the worker reports)."""
    from engine.agent.agentfile import load

    agent = load(request.agent_path)
    holder = getattr(models, "holder", None)
    with holder.busy("an agent run in the Run console") if holder else contextlib.nullcontext():
        return _run_agent(state, request, gate, models, agent)


def _run_agent(
    state: TaskState, request: RunRequest, gate: HookGate, models: ModelFactory, agent: Any
) -> str | NeedsTrust:
    from engine.agent.hooks import RunHooks
    from engine.agent.prepared import RunOptions, prepared_run
    from engine.agent.trust import trust_key

    cancel = state.cancel
    hooks = RunHooks(
        before_call=gate.before_call(cancel, state.flush),
        edit_plan=gate.edit_plan(cancel, state.flush),
    )
    trust = trust_key(agent) in request.trusted
    reason = "error"
    try:
        # the same setup as `agent run` (memory, documents, tools), on the window's model
        with prepared_run(
            agent,
            request.task,
            RunOptions(trust=trust),
            cancel=cancel,
            notice=lambda text: report("info", text.strip()),
            progress=state.emit,
            open_model=lambda spec: TeeModel(models(spec), state.emit),
            hooks=hooks,
        ) as prepared:
            for event in prepared.run:
                state.emit(event)
                reason = getattr(event, "stop_reason", reason)
    except UntrustedToolsError as exc:  # raised before anything runs, connects or loads
        return NeedsTrust(request, agent.sha256, trust_lines(exc.items), str(exc), trust_key(agent))
    return reason
