"""An agent file's run set up the way `agent run` does it, memory included.

    with prepared_run(agent, task, options, hooks=RunHooks(before_call=ask)) as prepared:
        for event in prepared.run:
            ...

First the trust check (`engine.agent.trust.admit`: paths that can never be right, then
the file's trust items unless `options.trust`), then budgets from the options, then the
agent's memory (opened and its `memory.documents`
ingested before the model, so a missing embedder stops everything early), the model,
the caller's hooks (how a person approves tool calls: a terminal question, a dialog),
the memory's hooks and tools, and the tool catalogue. On exit the catalogue and the
memory close and the memory's problems are reported. `agent run`, `profile record --
agent run` and the window all start runs here, so a recorded run is the same run.
Nothing here talks to a terminal: notices go to `notice`, ingestion to `progress`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # kept light: `agent` commands import this module at start-up
    from engine.agent.agentfile import AgentFile
    from engine.agent.hooks import RunHooks
    from engine.agent.model import StepModel
    from engine.agent.run import AgentRun
    from engine.agent.spec import AgentSpec
    from engine.progress import CancelToken, ProgressCallback
    from engine.tools.entries import TrustItem


@dataclass(frozen=True)
class RunOptions:
    """`agent run`'s options, under argparse's names (`RunOptions.from_args(args)`)."""

    model: str | None = None
    provider: str | None = None
    approve: str | None = None
    trust: bool = False
    workspace: str | None = None
    unconstrained: bool = False
    no_memory: bool = False
    max_steps: int | None = None
    max_tokens: int | None = None
    max_seconds: float | None = None

    @classmethod
    def from_args(cls, args: Any) -> RunOptions:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class PreparedRun:
    run: AgentRun
    model: StepModel
    spec: AgentSpec  # with the options' budgets, memory off under --no-memory


@contextmanager
def prepared_run(
    agent: AgentFile,
    task: str,
    options: RunOptions,
    *,
    hooks: RunHooks,
    cancel: CancelToken | None = None,
    profile_dir: Path | None = None,
    mark: Callable[..., None] | None = None,
    notice: Callable[[str], None] = lambda text: None,
    progress: ProgressCallback | None = None,
    open_model: Callable[[AgentSpec], StepModel] | None = None,
    memory_path: Path | None = None,
) -> Iterator[PreparedRun]:
    """`hooks`: the caller's (its `before_call` answers `ask` tools); `profile_dir` turns
    on ONNX Runtime's operator profiling; `mark(kind, **data)` is called before and after
    the model loads (`model_load_started`, `model_load_finished`); memory notices and
    problems go to `notice`, document ingestion reports to `progress`. The window passes
    its own `open_model` (its one loaded session); otherwise the options' model is used.
    `memory_path`: the memory store's folder instead of the agent's own store in the data
    home (an evaluation gives each task a store of its own)."""
    from engine.agent import launch
    from engine.agent.memory import AgentMemory, without_memory

    admit_run(agent, options)  # before anything opens, ingests, loads or connects
    spec = launch.with_limits(
        agent.spec, options.max_steps, options.max_tokens, options.max_seconds
    )
    memory = None
    if options.no_memory:
        spec = without_memory(spec)
    elif spec.memory.enabled:
        memory = AgentMemory.open(
            spec,
            path=memory_path,
            on_notice=lambda n: notice(f"[memory] {n.store}: {n.message}"),
        )
    try:
        if memory is not None:
            _ingest(memory, agent, notice, progress, cancel)
        if mark is not None:
            mark("model_load_started", model=options.model or spec.model.name)
        if open_model is not None:
            model = open_model(spec)
        else:
            model = launch.open_model(spec, options.model, options.provider, profile_dir)
        if mark is not None:
            mark("model_load_finished", provider=model.provider)
        if memory is not None:
            hooks = memory.hooks(hooks)
        with launch.agent_run(
            agent,
            task,
            model,
            spec=spec,
            workspace=Path(options.workspace).resolve() if options.workspace else None,
            trust=options.trust,
            hooks=hooks,
            cancel=cancel,
            constrained=not options.unconstrained,
            extra_tools=memory.tools() if memory is not None else (),
        ) as run:
            yield PreparedRun(run, model, spec)
    finally:
        if memory is not None:
            memory.close()
            for problem in memory.problems:
                notice(f"[memory] {problem}")


def admit_run(agent: AgentFile, options: RunOptions) -> tuple[TrustItem, ...]:
    """`engine.agent.trust.admit` for a run with these options: the trust items it
    accepts (`--trust`), or ForbiddenPathError / UntrustedAgentError."""
    from engine.agent.memory import without_memory
    from engine.agent.trust import admit

    workspace = Path(options.workspace).resolve() if options.workspace else None
    spec = without_memory(agent.spec) if options.no_memory else agent.spec
    return admit(agent, options.trust, workspace=workspace, spec=spec)


def _ingest(
    memory: Any,
    agent: AgentFile,
    notice: Callable[[str], None],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> None:
    """The agent file's memory.documents, brought up to date."""
    result = memory.ingest_documents(agent.folder, progress=progress, cancel=cancel)
    if result is not None:
        notice(
            f"\n[memory] documents: {result.files} ingested ({result.chunks} chunks), "
            f"{result.skipped} unchanged"
        )
