"""A task run's own folder: a fresh copy of the workspace and of the agent's folder.

    agent, workspace = prepare_run_folder(agent, folder, fixture)

The agent file is placed at FOLDER/agent/NAME (same spec and sha256), so what it names
relative to its folder resolves inside the run folder: `memory.documents` entries are
copied there from the agent's real folder, and an entry that is the agent's workspace gets
the fixture (the librarian's notes folder is both). FOLDER/agent/.task-workspace is a copy
of the task's fixture (or of the agent's own workspace when the task has none and it
exists; else empty), so a task that writes files changes only its copy; it is inside the
agent's folder, as a workspace in the data home must be (engine.agent.places).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path, PurePosixPath

from engine.agent.agentfile import AgentFile


def prepare_run_folder(
    agent: AgentFile, folder: Path, fixture: Path | None
) -> tuple[AgentFile, Path]:
    shutil.rmtree(folder, ignore_errors=True)
    home = folder / "agent"
    workspace = home / ".task-workspace"
    source = fixture if fixture is not None else agent.workspace
    _copy(source if source.is_dir() else None, workspace)
    name = agent.path.name if agent.path else "agent.agent.yaml"
    for entry in agent.spec.memory.documents:
        relative = _inside(entry)
        if relative is None:  # absolute or leaving the folder: it resolves as it is
            continue
        if relative == _inside(agent.spec.workspace):
            _copy(workspace, home / relative)
        else:
            original = agent.folder / relative
            if original.is_dir():
                _copy(original, home / relative)
            elif original.is_file():
                (home / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(original, home / relative)
    return replace(agent, path=home / name), workspace


def _inside(entry: str) -> PurePosixPath | None:
    path = PurePosixPath(entry.replace("\\", "/"))
    if path.is_absolute() or entry.startswith("~") or ".." in path.parts:
        return None
    return PurePosixPath(*[p for p in path.parts if p != "."])


def _copy(source: Path | None, target: Path) -> None:
    if source is None:
        target.mkdir(parents=True, exist_ok=True)
        return
    shutil.copytree(source, target, symlinks=True)
