"""What running an agent file trusts, and the check every run passes before it starts.

`trust_items(agent)` lists each thing the file does beyond its own folder (a
`TrustItem`): a workspace or memory document outside the file's folder (absolute, `..`,
`~`, a symlink), then what its tool entries do (`engine.tools.entries.trust_items`:
command tools, MCP servers of any transport, `files.write`/`python` without asking,
`python` with the network, `http.get`'s hosts). Trust belongs to the file's content: the
CLI's `--trust` and the window's trust question both accept the items of one
`AgentFile.sha256` (the window remembers it with the file's folder: `trust_key`); a
changed file is asked about again.

`admit(agent, trusted, workspace=, memory=)` is the gate `agent run`, `profile record --
agent run` and the window pass before anything runs, connects, ingests or loads: paths
that can never be right (`engine.agent.places`) are refused even when trusted
(`ForbiddenPathError`); untrusted items are refused naming each one
(`UntrustedAgentError`, an `UntrustedToolsError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.agent import places
from engine.errors import WorkbenchError
from engine.tools.entries import TrustItem, untrusted_message
from engine.tools.entries import trust_items as tool_items
from engine.tools.errors import UntrustedToolsError

if TYPE_CHECKING:
    from engine.agent.agentfile import AgentFile
    from engine.agent.spec import AgentSpec

__all__ = [
    "ForbiddenPathError",
    "TrustItem",
    "UntrustedAgentError",
    "admit",
    "trust_items",
    "trust_key",
]


class UntrustedAgentError(UntrustedToolsError):
    """The agent file has trust items and was not trusted (`items` names them)."""


class ForbiddenPathError(WorkbenchError):
    """A workspace or memory document the agent may never use, trusted or not."""


def trust_key(agent: AgentFile) -> str:
    """What a remembered trust is for: the file's content (`sha256`) and the folder its
    relative paths are read from (the same text in another folder reaches elsewhere)."""
    return f"{agent.sha256}:{agent.folder.resolve()}"


def _outside(agent: AgentFile, kind: str, label: str, text: str) -> TrustItem | None:
    folder = agent.folder.resolve()
    path = places.resolve(folder, text)
    if places.is_within(path, folder):
        return None
    shown = text if str(path) == text else f"{text} ({path})"
    return TrustItem(kind, f"{label} {shown}", "is outside the agent's folder")


def trust_items(agent: AgentFile, spec: AgentSpec | None = None) -> tuple[TrustItem, ...]:
    """Every trust item of the agent file (or of `spec`, a version of it about to run, for
    the file's folder), in the order the refusal lists them."""
    spec = spec or agent.spec
    found = [_outside(agent, "workspace", "workspace", spec.workspace)]
    if spec.memory.enabled:
        found += [_outside(agent, "document", "memory document", d) for d in spec.memory.documents]
    items = [item for item in found if item is not None]
    items += tool_items([t.to_entry() for t in spec.tools], spec.mcp_servers)
    return tuple(items)


def forbidden(
    agent: AgentFile,
    workspace: Path | None = None,
    memory: bool = True,
    spec: AgentSpec | None = None,
) -> list[str]:
    """Why the agent's workspace (or `workspace`, a run's own) or a memory document (when
    `memory` is used) can never be right: one line per path, empty when none."""
    spec = spec or agent.spec
    folder = agent.folder.resolve()
    found: list[str] = []
    where = places.resolve(folder, str(workspace) if workspace else spec.workspace)
    why = places.forbidden_workspace(where, folder)
    if why:
        found.append(f"workspace {where} {why}")
    if memory and spec.memory.enabled:
        for text in spec.memory.documents:
            path = places.resolve(folder, text)
            why = places.forbidden_document(path, folder)
            if why:
                found.append(f"memory document {text} ({path}) {why}")
    return found


def admit(
    agent: AgentFile,
    trusted: bool,
    *,
    workspace: Path | None = None,
    memory: bool = True,
    spec: AgentSpec | None = None,
) -> tuple[TrustItem, ...]:
    """The items this run trusts; raises `ForbiddenPathError` for a path that can never be
    right (the run's own `workspace` if it has one; the memory documents if `memory` is
    used), `UntrustedAgentError` for the items of a file that is not `trusted`."""
    refused = forbidden(agent, workspace, memory, spec)
    if refused:
        source = agent.path or "the agent file"
        raise ForbiddenPathError(
            f"{source}: refused, even trusted:\n"
            + "".join(f"  - {line}\n" for line in refused)
            + "change the path in the agent file (relative to its folder)"
        )
    items = trust_items(agent, spec)
    if items and not trusted:
        lead = f"{agent.path or 'this agent file'} reaches outside its folder"
        raise UntrustedAgentError(untrusted_message(items, lead), items)
    return items
