"""Record / Stop / Save / Load / Compare / Export from the profiler, on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.telemetry import session_file
from engine.telemetry.trace_check import check
from gui import profile_io
from gui.panels.console import QtGenerationConsole
from gui.widgets.compare_view import CompareView
from gui.widgets.timeline import ROWS, span_color
from tests.helpers.agent_events import Unknown, agent_run
from tests.helpers.generation_events import generation
from tests.helpers.pixels import count_color
from tests.helpers.profiler import live_profiler


def _generate(console: QtGenerationConsole, qtbot, prompt: str) -> None:
    console.prompt.setPlainText(prompt)
    assert console.run() is not None
    qtbot.waitUntil(lambda: console.worker is None, timeout=60000)
    assert console.finished is not None


def _wait(qtbot, controls, action) -> object:
    """Run `action()` (which starts a worker) and return what the worker returned/raised."""
    with qtbot.waitSignal(controls.finished, timeout=30000) as blocker:
        assert action() is not None
    return blocker.args[1]


def _record(panel, console, qtbot, prompt: str, out: Path) -> Path:
    controls = panel.controls
    controls.record()
    assert controls.recorder.recording and not controls.buttons["record"].isEnabled()
    _generate(console, qtbot, prompt)
    session = controls.stop()
    assert session is not None and len(session.runs) == 1
    assert session.runs[0].kind == "generation"
    assert session.runs[0].metrics["new_tokens"] == 12
    assert controls.buttons["save"].isEnabled()
    saved = _wait(qtbot, controls, lambda: controls.save_as(out))
    assert saved == out and out.is_file()
    return out


def test_record_save_load_compare_export_a_real_generation(
    ctx, qtbot, tiny_models: Path, tmp_path: Path
) -> None:
    panel = live_profiler(ctx, qtbot)
    console = QtGenerationConsole(ctx)
    qtbot.addWidget(console)
    console.model.setCurrentText("tiny-int4")
    console.chat.setChecked(False)
    console.max_tokens.setValue(12)
    a = _record(panel, console, qtbot, "The capital of France is", tmp_path / "a.awprof.json")
    b = _record(panel, console, qtbot, "Once upon a time", tmp_path / "b.awprof.json")

    # load back: the charts and the timeline show the saved session, read-only
    controls = panel.controls
    loaded = _wait(qtbot, controls, lambda: controls.load(a))
    assert isinstance(loaded, session_file.ProfileSession)
    qtbot.waitUntil(lambda: panel.viewing is not None)
    assert "read-only" in panel.summary.text()
    gen = next(s for s in panel.viewing.spans if s.kind == "decode")
    panel.timeline.show_range(gen.start - 0.05, gen.end + 0.05)
    panel.tick()  # the live timer leaves the loaded view alone
    assert panel.timeline.span_at((gen.start + gen.end) / 2, ROWS["decode"]) is not None
    assert count_color(panel.timeline, span_color(ctx.theme, "decode"), tolerance=20) > 50
    assert count_color(panel.charts["itl"], ctx.theme.chart("itl")) > 10
    controls.buttons["live"].click()
    assert panel.viewing is None

    # compare (the engine's table) and export (the engine's functions; trace checked)
    result = profile_io.compare_files(None, str(a), str(b))  # the dialog's worker body
    rows = {r["metric"]: r for r in result["metrics"]}
    assert rows["new_tokens"]["a"] == rows["new_tokens"]["b"] == 12
    assert rows["decode_tok_s"]["ratio"] is not None
    view = CompareView()
    qtbot.addWidget(view)
    view.set_result(result)  # what the sessions panel's compare dialog shows
    assert view.table.rowCount() == len(result["metrics"])
    assert "final answers identical in 0 of 1 paired runs" in view.quality.text().lower()
    assert "run 1: A " in view.quality.text()
    trace = tmp_path / "trace.json"
    done = _wait(qtbot, controls, lambda: controls.export("chrome", trace))
    assert done["path"] == str(trace)
    check(json.loads(trace.read_text()))
    csv = tmp_path / "metrics.csv"
    _wait(qtbot, controls, lambda: controls.export("csv", csv))
    lines = csv.read_text().splitlines()
    assert len(lines) == 2 and "decode_tok_s" in lines[0]


def test_save_goes_to_the_data_home_sessions(ctx, qtbot, tmp_path: Path) -> None:
    panel = live_profiler(ctx, qtbot)
    controls = panel.controls
    controls.record()
    controls.stop()
    path = _wait(qtbot, controls, controls.save)
    assert isinstance(path, Path) and path.parent == session_file.resolve(path).parent
    from engine.paths import sessions_dir

    assert path.parent == sessions_dir() and path.name.endswith(session_file.SUFFIX)
    assert [r["path"] for r in session_file.list_sessions()] == [str(path)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not readable JSON"),
        ('{"format": "something else"}', "is not an Agent Workbench profiling session"),
        ('{"format": "agent-workbench-profile", "version": 9}', "newer than this"),
        ('{"format": "agent-workbench-profile", "version": 1, "runs": []}', "missing field"),
    ],
)
def test_a_corrupt_session_file_is_a_readable_message(
    ctx, qtbot, tmp_path: Path, content: str, message: str
) -> None:
    panel = live_profiler(ctx, qtbot)
    bad = tmp_path / "bad.awprof.json"
    bad.write_text(content)
    error = _wait(qtbot, panel.controls, lambda: panel.controls.load(bad))
    assert isinstance(error, session_file.SessionFileError)
    assert message in panel.controls.status.text() and str(bad) in panel.controls.status.text()
    assert panel.viewing is None


def test_damaged_content_that_parses_is_a_readable_message(ctx, qtbot, tmp_path: Path) -> None:
    panel = live_profiler(ctx, qtbot)
    controls = panel.controls
    controls.record()
    controls.stop()
    good = _wait(qtbot, controls, lambda: controls.save_as(tmp_path / "good.awprof.json"))
    assert isinstance(good, Path)
    doc = json.loads(good.read_text())
    doc["samples"][0]["values"] = "garbage"
    bad = tmp_path / "damaged.awprof.json"
    bad.write_text(json.dumps(doc))
    error = _wait(qtbot, controls, lambda: controls.load(bad))
    assert isinstance(error, session_file.SessionFileError)
    assert "damaged" in controls.status.text()


def test_recording_an_agent_run_and_a_generation_inside_it(ctx, qtbot) -> None:
    import time

    panel = live_profiler(ctx, qtbot)
    controls = panel.controls
    controls.record()
    events = agent_run(time.monotonic())
    for event in events[:6]:
        ctx.agents.run_events.emit([event])
    ctx.generation.publish_started()  # the agent's model call: part of the agent run
    for event in generation(time.monotonic(), 10, gap=0.001):
        ctx.generation.publish([event])
    ctx.agents.run_events.emit([Unknown()])  # ignored, not an error
    for event in events[6:]:
        ctx.agents.run_events.emit([event])
    session = controls.stop()
    assert session is not None and [r.kind for r in session.runs] == ["agent"]
    run = session.runs[0]
    assert run.label == "helper: capital of France?"
    kinds = {s.kind for s in run.spans}
    assert {"run", "agent_run", "tool", "subtask", "generation", "decode"} <= kinds
    assert run.metrics["quality"]["final_answer"] == "Paris"
    assert run.metrics["quality"]["tool_calls"] == 1
    # after Stop nothing is recorded any more
    ctx.agents.run_events.emit([events[0]])
    assert len(session.runs) == 1 and not controls.recorder.recording
