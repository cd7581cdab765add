"""The agent templates shipped in engine/resources/agents/ and `agent new`."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.agent.agentfile import AgentFile, AgentFileError, load
from engine.paths import resource

TEMPLATES = resource("agents")
SUFFIX = ".agent.yaml"


def templates() -> dict[str, Path]:
    """Template name -> file (engine/resources/agents/NAME.agent.yaml)."""
    return {p.name[: -len(SUFFIX)]: p for p in sorted(TEMPLATES.glob(f"*{SUFFIX}"))}


def new_agent(template: str, destination: Path | str) -> AgentFile:
    """Copy a template (comments included) to `destination`, never over an existing file.

    A template with a sample workspace (engine/resources/agents/NAME.workspace/) gets a copy of
    it as the new agent's workspace folder, unless that folder already exists.
    """
    found = templates()
    if template not in found:
        raise AgentFileError(
            f"no agent template {template!r}; templates: {', '.join(found) or 'none'}"
        )
    destination = Path(destination)
    if not destination.name.endswith(SUFFIX):
        raise AgentFileError(f"{destination}: an agent file's name ends with {SUFFIX}")
    if destination.exists():
        raise AgentFileError(f"{destination} already exists; choose another file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    text = found[template].read_text(encoding="utf-8")
    with destination.open("x", encoding="utf-8") as handle:
        handle.write(text)
    agent = load(destination)
    sample = TEMPLATES / f"{template}.workspace"
    if sample.is_dir() and not agent.workspace.exists():
        shutil.copytree(sample, agent.workspace)
    return agent
