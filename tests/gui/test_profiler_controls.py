"""The profiler's session bar: closing the window with a running or unsaved recording
(Save / Discard / Cancel, on the real window), and the Save As / Load / Export file
dialogs (answered by monkeypatching QFileDialog); real session files under tmp_path."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from engine import paths
from engine.telemetry import session_file
from engine.telemetry.trace_check import check
from gui.profiler_controls import SESSION_FILTER
from tests.helpers.file_dialogs import answer, cancel
from tests.helpers.generation_events import generation
from tests.helpers.profiler import live_profiler

Answer = QMessageBox.StandardButton


def _answer(monkeypatch: pytest.MonkeyPatch, answer: Answer) -> list[str]:
    """Answer the close prompt with `answer`; the texts it was asked with are returned."""
    asked: list[str] = []

    def question(parent: object, title: str, text: str, *args: object) -> Answer:
        asked.append(f"{title}: {text}")
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def _never_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def question(*args: object) -> Answer:
        raise AssertionError(f"asked although nothing is unsaved: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", question)


def _one_generation(ctx: Any, n: int = 8) -> None:
    ctx.generation.publish_started()
    ctx.generation.publish(generation(time.monotonic(), n, gap=0.001))


def _saved_files() -> list[Path]:
    return sorted(paths.sessions_dir().glob(f"*{session_file.SUFFIX}"))


def test_close_while_recording_save_stops_writes_the_runs_and_closes(
    window, qtbot, monkeypatch
) -> None:
    controls = window.panels["profiler"].controls
    controls.record()
    _one_generation(window.ctx)
    _one_generation(window.ctx, 5)
    asked = _answer(monkeypatch, Answer.Save)
    assert window.close()
    assert not window.isVisible() and len(asked) == 1 and "being recorded" in asked[0]
    assert not controls.recorder.recording and controls.unsaved is None
    (saved,) = _saved_files()
    session = session_file.load(saved)
    assert [r.kind for r in session.runs] == ["generation", "generation"]
    assert [r.metrics["new_tokens"] for r in session.runs] == [8, 5]
    assert session.samples  # the recording's own sampler went in too


def test_close_with_an_unsaved_recording_discard_closes_and_writes_nothing(
    window, qtbot, monkeypatch
) -> None:
    controls = window.panels["profiler"].controls
    controls.record()
    _one_generation(window.ctx)
    assert controls.stop() is not None
    asked = _answer(monkeypatch, Answer.Discard)
    assert window.close()
    assert not window.isVisible() and "(1 run(s)) is not saved" in asked[0]
    assert _saved_files() == [] and controls.unsaved is None


def test_close_cancel_keeps_the_window_and_the_recording_goes_on(
    window, qtbot, monkeypatch
) -> None:
    controls = window.panels["profiler"].controls
    controls.record()
    _one_generation(window.ctx)
    asked = _answer(monkeypatch, Answer.Cancel)
    assert not window.close()
    assert window.isVisible() and len(asked) == 1 and controls.recorder.recording
    _one_generation(window.ctx, 4)  # still recorded after the Cancel
    session = controls.stop()
    assert session is not None and [r.metrics["new_tokens"] for r in session.runs] == [8, 4]
    assert _saved_files() == []
    assert not window.close() and len(asked) == 2  # now unsaved: asked again, kept open
    controls.discard()
    assert window.close() and len(asked) == 2  # nothing left to ask about


def test_a_failed_save_on_close_shows_the_error_and_keeps_everything(
    window, qtbot, monkeypatch
) -> None:
    controls = window.panels["profiler"].controls
    blocker = paths.data_home() / "sessions"
    if blocker.is_dir():  # the sessions panel may have made it (empty)
        blocker.rmdir()
    blocker.write_text("not a folder")  # a file where the folder should be: unwritable
    controls.record()
    _one_generation(window.ctx)
    _answer(monkeypatch, Answer.Save)
    errors: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: errors.append(text))
    assert not window.close()
    assert window.isVisible() and not controls.recorder.recording
    assert len(errors) == 1 and "cannot write the profiling session" in errors[0]
    assert "still in memory" in errors[0] and "save failed" in controls.status.text()
    session = controls.unsaved
    assert session is not None and session.path is None and len(session.runs) == 1
    assert blocker.read_text() == "not a folder"
    # the person makes room and closes again: the same session is saved this time
    blocker.unlink()
    assert window.close() and not window.isVisible()
    (saved,) = _saved_files()
    assert len(session_file.load(saved).runs) == 1


def test_nothing_is_asked_without_a_recording_or_after_it_was_saved(
    window, qtbot, monkeypatch
) -> None:
    controls = window.panels["profiler"].controls
    _never_asked(monkeypatch)
    controls.record()
    _one_generation(window.ctx)
    controls.stop()
    controls.save()  # a Save just before closing: the close waits for it instead of asking
    assert window.close() and not window.isVisible()
    (saved,) = _saved_files()
    assert len(session_file.load(saved).runs) == 1 and controls.unsaved is None


def test_a_loaded_session_is_not_unsaved(window, qtbot, monkeypatch) -> None:
    controls = window.panels["profiler"].controls
    controls.record()
    controls.stop()
    with qtbot.waitSignal(controls.finished, timeout=30000) as saved:
        controls.save()
    with qtbot.waitSignal(controls.finished, timeout=30000):
        controls.load(saved.args[1])
    assert controls.session is not None and controls.session.path == saved.args[1]
    _never_asked(monkeypatch)
    assert window.close()


# ---------------------------------------------------------------------- file dialogs
def _wait(qtbot, controls, action) -> object:
    """Run `action()` (it starts a worker) and return what the worker returned/raised."""
    with qtbot.waitSignal(controls.finished, timeout=30000) as blocker:
        assert action() is not None
    return blocker.args[1]


def _recorded(ctx, qtbot):
    panel = live_profiler(ctx, qtbot)
    panel.controls.record()
    _one_generation(ctx)
    assert panel.controls.stop() is not None
    return panel


@pytest.mark.parametrize(
    ("typed", "written"),
    [("mine", "mine.awprof.json"), ("mine.awprof.json", "mine.awprof.json")],
)
def test_save_as_writes_the_chosen_file(ctx, qtbot, monkeypatch, tmp_path, typed, written):
    panel = _recorded(ctx, qtbot)  # kept: the controls live as long as their panel
    controls = panel.controls
    cancel(monkeypatch, "getSaveFileName")
    assert controls.save_as() is None
    assert list(tmp_path.rglob("*.awprof.json")) == [] and controls.unsaved is not None
    calls = answer(monkeypatch, "getSaveFileName", (str(tmp_path / typed), SESSION_FILTER))
    saved = _wait(qtbot, controls, controls.save_as)
    assert saved == tmp_path / written and calls[0][3] == SESSION_FILTER
    assert [r.metrics["new_tokens"] for r in session_file.load(saved).runs] == [8]
    assert controls.unsaved is None and str(saved) in controls.status.text()


def test_load_opens_the_chosen_file_and_cancel_keeps_the_view(
    ctx, qtbot, monkeypatch, tmp_path
) -> None:
    panel = _recorded(ctx, qtbot)
    controls = panel.controls
    kept = session_file.save(controls.session, tmp_path / "kept.awprof.json")
    controls.unsaved = None  # saved above, behind the panel's back
    calls = cancel(monkeypatch, "getOpenFileName")
    assert controls.load() is None
    assert calls[0][2] == str(paths.sessions_dir()) and SESSION_FILTER in calls[0][3]
    assert panel.viewing is None and "Recorded 1 run(s)" in controls.status.text()
    answer(monkeypatch, "getOpenFileName", (str(kept), SESSION_FILTER))
    loaded = _wait(qtbot, controls, controls.load)
    assert isinstance(loaded, session_file.ProfileSession) and loaded.path == kept
    qtbot.waitUntil(lambda: panel.viewing is not None)
    assert controls.session is loaded and str(kept) in controls.status.text()


@pytest.mark.parametrize("kind", ["chrome", "csv"])
def test_export_writes_the_chosen_file(ctx, qtbot, monkeypatch, tmp_path, kind) -> None:
    panel = _recorded(ctx, qtbot)  # kept: the controls live as long as their panel
    controls = panel.controls
    out = tmp_path / ("trace.json" if kind == "chrome" else "metrics.csv")
    cancel(monkeypatch, "getSaveFileName")
    assert controls.export(kind) is None and list(tmp_path.iterdir()) == [tmp_path / "home"]
    calls = answer(monkeypatch, "getSaveFileName", (str(out), ""))
    result = _wait(qtbot, controls, lambda: controls.export(kind))
    assert result["path"] == str(out) and f"Exported {out}" in controls.status.text()
    assert calls[0][3] == ("Trace (*.json)" if kind == "chrome" else "CSV (*.csv)")
    if kind == "chrome":
        check(json.loads(out.read_text()))
    else:
        header, row = out.read_text().splitlines()
        assert "decode_tok_s" in header and row


@pytest.mark.parametrize("choice", [Answer.Save, Answer.Discard, Answer.Cancel])
def test_recording_again_over_an_unsaved_session_asks(window, qtbot, monkeypatch, choice) -> None:
    controls = window.panels["profiler"].controls
    controls.record()
    _one_generation(window.ctx)
    first = controls.stop()
    asked = _answer(monkeypatch, choice)
    controls.record()
    assert len(asked) == 1 and "before recording a new one" in asked[0]
    if choice == Answer.Cancel:  # nothing changes: not recording, the session still unsaved
        assert not controls.recorder.recording and controls.unsaved is first
        assert _saved_files() == []
        return
    assert controls.recorder.recording and controls.unsaved is None
    saved = _saved_files()
    if choice == Answer.Save:
        (path,) = saved
        assert len(session_file.load(path).runs) == 1
    else:
        assert saved == []
    controls.discard()  # the new recording, so the window closes without asking


def test_recording_again_after_saving_does_not_ask(window, qtbot, monkeypatch) -> None:
    controls = window.panels["profiler"].controls
    controls.record()
    _one_generation(window.ctx)
    controls.stop()
    with qtbot.waitSignal(controls.finished, timeout=10000):
        controls.save()
    _never_asked(monkeypatch)
    controls.record()
    assert controls.recorder.recording
    controls.discard()
