"""Closing the window with a running or unsaved profiling recording: Save / Discard / Cancel,
on the real window and real session files in the test's data home."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from engine import paths
from engine.telemetry import session_file
from tests.gui.panels.test_profiler import _generation

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
    ctx.generation.publish(_generation(ctx, time.monotonic(), n, gap=0.001))


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
