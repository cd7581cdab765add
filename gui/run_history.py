"""Past runs from the transcripts in the data home's runs/ folder (docs/agents.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine import paths


@dataclass(frozen=True)
class RunSummary:
    path: Path
    created: str  # UTC, "2026-11-24T13:01:16Z"
    agent: str
    task: str
    stop_reason: str  # "" while a run is still going (or when it crashed)

    def label(self) -> str:
        when = self.created.replace("T", " ").rstrip("Z")
        reason = self.stop_reason or "unfinished"
        task = self.task if len(self.task) <= 60 else self.task[:57] + "..."
        return f"{when}  ·  {self.agent}  ·  {task}  ·  {reason}"


def summarize(path: Path) -> RunSummary | None:
    """The header and the stop reason of one transcript; None if it is not one."""
    try:
        with path.open(encoding="utf-8") as handle:
            header = json.loads(handle.readline())
            last = ""
            for line in handle:
                if line.strip():
                    last = line
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(header, dict) or header.get("type") != "header":
        return None
    reason = ""
    if last:
        try:
            final = json.loads(last)
        except json.JSONDecodeError:
            final = {}
        if isinstance(final, dict) and final.get("type") == "RunFinished":
            reason = str(final.get("stop_reason", ""))
    agent = header.get("agent")
    name = agent.get("name", "?") if isinstance(agent, dict) else str(agent)
    return RunSummary(
        path, str(header.get("created", "")), name, str(header.get("task", "")), reason
    )


def list_runs(folder: Path | None = None, limit: int = 200) -> list[RunSummary]:
    """The newest `limit` runs first (file names start with the UTC time)."""
    folder = folder or paths.runs_dir()
    files = sorted(folder.glob("*.jsonl"), key=lambda p: p.name, reverse=True)[:limit]
    return [s for s in map(summarize, files) if s is not None]
