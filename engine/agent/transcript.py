"""Run transcripts: one JSON Lines file per run in the data home's runs/ folder.

Line 1 is a header with everything needed to replay the run (agent file hash and
content, model manifest hash, provider, sampling settings and seed, task, budgets);
every later line is one run event (`RunEvent.to_json`). Token deltas are not written:
each step's whole text is in its ToolCall / FinalAnswer / PlanStep / Reflection line;
nor are GenerationTimed events (timings belong in a profiling session; RunFinished's
metrics keep each generation's TTFT and decode rate).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from engine.agent.events import GenerationTimed, RunEvent, TokenDelta
from engine.agent.names import folder_name
from engine.errors import WorkbenchError
from engine.paths import runs_dir

TRANSCRIPT_VERSION = 1


def transcript_path(agent_name: str, run_id: str, folder: Path | None = None) -> Path:
    slug = folder_name(agent_name, limit=40)  # the name as the memory store has it
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return (folder or runs_dir()) / f"{stamp}-{slug}-{run_id[:8]}.jsonl"


class TranscriptWriter:
    """Appends events as they happen (flushed per line, so a crash keeps what ran)."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] | None = path.open("w", encoding="utf-8")
        self._line({"type": "header", "version": TRANSCRIPT_VERSION, **header})

    def _line(self, data: dict[str, Any]) -> None:
        if self._handle is None:
            return
        self._handle.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        self._handle.flush()

    def write(self, event: RunEvent) -> None:
        if not isinstance(event, TokenDelta | GenerationTimed):
            self._line(event.to_json())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_transcript(path: Path | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, events) of a transcript file."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkbenchError(f"cannot read the transcript {path}: {exc}") from exc
    if not rows or rows[0].get("type") != "header":
        raise WorkbenchError(f"{path} is not a run transcript (no header line)")
    return rows[0], rows[1:]
