"""Wire an agent file to a model and its tool catalogue: what `agent run` and the window use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.agent.agentfile import AgentFile
from engine.agent.hooks import RunHooks
from engine.agent.model import SessionModel, StepModel
from engine.agent.run import AgentRun
from engine.agent.spec import AgentSpec
from engine.errors import ModelError
from engine.progress import CancelToken
from engine.tools.base import Tool


def open_model(
    spec: AgentSpec,
    name: str | None = None,
    provider: str | None = None,
    profile_dir: Path | None = None,
) -> SessionModel:
    """The agent's prepared model (or `name`: a prepared model's name or folder);
    `profile_dir` turns on ONNX Runtime's operator profiling (for `profile record`)."""
    from engine.llm.session import LLMSession
    from engine.manifest import is_prepared, model_folder

    wanted = name or spec.model.name
    folder = model_folder(wanted)
    if not is_prepared(folder):
        raise ModelError(
            f"no prepared model {wanted!r} (looked in {folder}); prepare it with "
            "`python main.py model prepare` or set model.name in the agent file"
        )
    session = LLMSession(folder, provider=provider or spec.model.provider, profile_dir=profile_dir)
    return SessionModel(session, spec.model.sampling)


def with_limits(
    spec: AgentSpec,
    max_steps: int | None = None,
    max_tokens: int | None = None,
    max_seconds: float | None = None,
) -> AgentSpec:
    """The spec with budgets overridden (None keeps the file's value)."""
    p = spec.planning
    planning = replace(
        p,
        max_steps=max_steps if max_steps is not None else p.max_steps,
        max_tokens=max_tokens if max_tokens is not None else p.max_tokens,
        max_seconds=max_seconds if max_seconds is not None else p.max_seconds,
    )
    return replace(spec, planning=planning)


@contextmanager
def agent_run(
    agent: AgentFile,
    task: str,
    model: StepModel,
    *,
    spec: AgentSpec | None = None,
    workspace: Path | None = None,
    trust: bool = False,
    hooks: RunHooks | None = None,
    cancel: CancelToken | None = None,
    extra_tools: Sequence[Tool] = (),
    transcript: bool | Path = True,
    constrained: bool = True,
) -> Iterator[AgentRun]:
    """An `AgentRun` with the file's tool catalogue; the catalogue closes on exit
    (MCP servers stop). Raises UntrustedAgentError (an UntrustedToolsError) for a file with
    trust items (engine.agent.trust) without `trust`, ForbiddenPathError for a workspace that
    can never be right."""
    from engine.agent.trust import admit
    from engine.tools.catalog import build_registry

    spec = spec or agent.spec
    admit(agent, trust, workspace=workspace, memory=False, spec=spec)
    folder = workspace or agent.workspace
    folder.mkdir(parents=True, exist_ok=True)
    header: dict[str, Any] = {
        "agent_file": str(agent.path) if agent.path else None,
        "agent_file_sha256": agent.sha256,
    }
    registry = build_registry(
        [t.to_entry() for t in spec.tools],
        [dict(s) for s in spec.mcp_servers],
        workspace=folder,
        trust=trust,
        extra=tuple(extra_tools),
    )
    with registry:
        yield AgentRun(
            spec,
            model,
            registry,
            task,
            workspace=folder,
            hooks=hooks,
            cancel=cancel,
            transcript=transcript,
            header=header,
            constrained=constrained,
        )


def preview_tools(spec: AgentSpec, workspace: Path | None = None) -> list[Tool]:
    """The agent's tools for a prompt preview, without running anything: built-ins and
    command tools (MCP servers' tools are only known once their server runs)."""
    from engine.tools.catalog import BUILTINS, build_builtin

    tools: list[Tool] = []
    for index, entry in enumerate(spec.tools):
        if entry.kind == "command":
            tools.append(
                Tool(
                    entry.name,
                    entry.description,
                    entry.parameters,
                    function=_not_run,
                    approval=entry.approval or "auto",  # type: ignore[arg-type]
                    source="command",
                )
            )
        elif entry.name in BUILTINS:
            tools.append(
                build_builtin(entry.to_entry(), workspace or Path.cwd(), f"tools[{index}]")
            )
    return tools


def _not_run(**arguments: Any) -> None:
    raise RuntimeError("a preview tool is never called")
