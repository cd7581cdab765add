"""Run history: transcripts in runs/ listed newest first; broken files are skipped."""

from __future__ import annotations

import json
from pathlib import Path

from engine import paths
from engine.agent import events as ev
from engine.agent.transcript import TranscriptWriter
from gui.run_history import list_runs, summarize


def write(path: Path, task: str, finished: bool) -> Path:
    writer = TranscriptWriter(
        path,
        {"run_id": "r", "created": "2026-11-24T13:01:16Z", "task": task, "agent": {"name": "A"}},
    )
    writer.write(ev.ToolResult(1.0, 1, "calculator", True, "5"))
    if finished:
        writer.write(ev.RunFinished(1.0, 2, "max_steps", None, ev.RunMetrics()))
    writer.close()
    return path


def test_runs_are_listed_newest_first_with_their_stop_reason() -> None:
    folder = paths.runs_dir()
    write(folder / "20261124-130000-a-1.jsonl", "first", True)
    write(folder / "20261124-140000-a-2.jsonl", "second " * 20, False)
    (folder / "20261124-150000-broken.jsonl").write_text("not json\n", encoding="utf-8")
    (folder / "20261124-160000-other.jsonl").write_text(json.dumps({"type": "x"}) + "\n")
    runs = list_runs()
    assert [r.task.split()[0] for r in runs] == ["second", "first"]
    assert runs[0].stop_reason == "" and "unfinished" in runs[0].label()
    assert runs[1].label() == "2026-11-24 13:01:16  ·  A  ·  first  ·  max_steps"
    assert runs[0].label().count("...") == 1  # long tasks are shortened


def test_a_missing_file_is_no_run(tmp_path: Path) -> None:
    assert summarize(tmp_path / "gone.jsonl") is None
    assert list_runs(tmp_path) == []
