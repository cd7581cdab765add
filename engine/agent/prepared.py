"""An agent file's run set up the way `agent run` does it, memory included.

    with prepared_run(agent, task, RunOptions.from_args(args)) as prepared:
        for event in prepared.run:
            ...

Budgets from the options, then the agent's memory (opened and its `memory.documents`
ingested before the model, so a missing embedder stops everything early), the model,
the approval hook, the memory's hooks and tools, and the tool catalogue. On exit the
catalogue and the memory close and the memory's problems are reported. `agent run` and
`profile record -- agent run` both start runs here, so a recorded run is the same run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine.tools.base import ToolCallRequest

if TYPE_CHECKING:  # kept light: `agent` commands import this module at start-up
    from engine.agent.agentfile import AgentFile
    from engine.agent.hooks import RunHooks
    from engine.agent.model import StepModel
    from engine.agent.run import AgentRun
    from engine.agent.spec import AgentSpec
    from engine.progress import CancelToken


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


def to_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def ask_on_terminal(stream: TextIO | None = None) -> Any:
    """A before-call hook that asks on the terminal (stderr + stdin)."""

    def ask(request: ToolCallRequest) -> bool | str:
        out = stream or sys.stderr
        args = json.dumps(request.arguments, ensure_ascii=False)
        out.write(f"allow {request.tool.name} {args}? [y/N] ")
        out.flush()
        answer = sys.stdin.readline().strip().lower()
        return True if answer in ("y", "yes") else "the person said no"

    return ask


def approval(mode: str | None) -> Any:
    """The before-call hook for `--approve auto|deny|ask`."""
    if mode == "auto":
        return lambda request: True
    if mode == "deny":
        return lambda request: "refused by --approve deny"
    return ask_on_terminal()


@contextmanager
def prepared_run(
    agent: AgentFile,
    task: str,
    options: RunOptions,
    *,
    cancel: CancelToken | None = None,
    profile_dir: Path | None = None,
    mark: Callable[..., None] | None = None,
    notice: Callable[[str], None] = to_stderr,
    open_model: Callable[[AgentSpec], StepModel] | None = None,
    hooks: RunHooks | None = None,
) -> Iterator[PreparedRun]:
    """`profile_dir` turns on ONNX Runtime's operator profiling; `mark(kind, **data)` is
    called before and after the model loads (`model_load_started`, `model_load_finished`);
    memory notices, ingestion and problems go to `notice` (ingestion progress to stderr).
    The window passes its own `open_model` (its one loaded session) and `hooks` (its
    dialogs); otherwise the options' model and `approve` policy are used."""
    from engine.agent import launch
    from engine.agent.hooks import RunHooks as Hooks
    from engine.agent.memory import AgentMemory, without_memory

    spec = launch.with_limits(
        agent.spec, options.max_steps, options.max_tokens, options.max_seconds
    )
    memory = None
    if options.no_memory:
        spec = without_memory(spec)
    elif spec.memory.enabled:
        memory = AgentMemory.open(
            spec, on_notice=lambda n: notice(f"[memory] {n.store}: {n.message}")
        )
    try:
        if memory is not None:
            _ingest(memory, agent, notice, cancel)
        if mark is not None:
            mark("model_load_started", model=options.model or spec.model.name)
        if open_model is not None:
            model = open_model(spec)
        else:
            model = launch.open_model(spec, options.model, options.provider, profile_dir)
        if mark is not None:
            mark("model_load_finished", provider=model.provider)
        if hooks is None:
            hooks = Hooks(before_call=approval(options.approve))
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


def _ingest(
    memory: Any, agent: AgentFile, notice: Callable[[str], None], cancel: CancelToken | None
) -> None:
    """The agent file's memory.documents, brought up to date (progress on stderr)."""
    from engine.progress import TerminalProgress

    result = memory.ingest_documents(agent.folder, progress=TerminalProgress(), cancel=cancel)
    if result is not None:
        notice(
            f"\n[memory] documents: {result.files} ingested ({result.chunks} chunks), "
            f"{result.skipped} unchanged"
        )
