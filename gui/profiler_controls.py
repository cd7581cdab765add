"""The live profiler's session bar: Record / Stop / Save / Save As / Load / Export / Live.

Record starts a `SessionRecorder`; Stop finishes it (the session stays in memory until
saved); Save writes it to the data home's sessions/ (Save As asks for a file); Load
opens a session file in the profiler's read-only view; Export writes the current
session (recorded or loaded) as a Chrome trace or a CSV. File work runs in workers;
errors reach the status line and the Messages panel. Closing the window while a
recording runs or a recorded session is unsaved asks first (`confirm_close`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from engine.errors import WorkbenchError
from engine.telemetry.session_file import SUFFIX, ProfileSession
from gui import profile_io
from gui.bridge import Worker, report
from gui.context import AppContext
from gui.profile_recorder import SessionRecorder
from gui.widgets.questions import save_discard_cancel

SESSION_FILTER = f"Profiling sessions (*{SUFFIX})"
#: Closing the window waits at most this long for a save already under way.
PENDING_SAVE_WAIT_S = 10.0
Answer = QMessageBox.StandardButton


class ProfilerControls(QWidget):
    #: (action name, its result or the exception) after every save/load/export worker
    finished = Signal(str, object)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.recorder = SessionRecorder(ctx)
        self.session: ProfileSession | None = None  # the last recorded or loaded session
        self.unsaved: ProfileSession | None = None  # the last recording, until it is saved
        self.workers: list[Worker] = []
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for key, text, slot in (
            ("record", "● Record", self.record),
            ("stop", "■ Stop", self.stop),
            ("save", "Save", lambda: self.save()),
            ("save_as", "Save As…", lambda: self.save_as()),
            ("load", "Load…", lambda: self.load()),
            ("chrome", "Export trace…", lambda: self.export("chrome")),
            ("csv", "Export CSV…", lambda: self.export("csv")),
            ("live", "Live", lambda: ctx.profiles.show.emit(None)),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[key] = button
        self.status = QLabel("Not recording.")
        self.status.setObjectName("caption")
        row.addWidget(self.status, 1)
        self.recorder.state_changed.connect(self._update)
        self._update()

    def _update(self, *args: object) -> None:
        rec = self.recorder.recording
        has = self.session is not None
        self.buttons["record"].setEnabled(not rec)
        self.buttons["stop"].setEnabled(rec)
        for key in ("save", "save_as", "chrome", "csv"):
            self.buttons[key].setEnabled(has and not rec)

    # ------------------------------------------------------------------ record
    def record(self) -> None:
        """Start a recording; an unsaved one is offered for saving first (it would be lost)."""
        if self.unsaved is not None and not self._settle(
            f"The recorded profiling session ({len(self.unsaved.runs)} run(s)) is not saved",
            "before recording a new one",
        ):
            return
        self.recorder.start()
        self.status.setText("Recording: every generation and agent run goes into the session…")

    def stop(self) -> ProfileSession | None:
        session = self.recorder.stop()
        if session is not None:
            self.session = self.unsaved = session
            self.status.setText(
                f"Recorded {len(session.runs)} run(s), {session.duration_s:.1f} s (not saved yet)."
            )
        self._update()
        return session

    # ------------------------------------------------------------------ files
    def _start(
        self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None], name: str
    ) -> Worker:
        worker = Worker(fn, *args, name=name)
        worker.signals.returned.connect(on_done)
        worker.signals.returned.connect(lambda result: self.finished.emit(name, result))
        worker.signals.errored.connect(lambda exc: self.status.setText(f"{name} failed: {exc}"))
        worker.signals.errored.connect(lambda exc: self.finished.emit(name, exc))
        worker.signals.done.connect(lambda w=worker: self.workers.remove(w))
        self.workers.append(worker)
        self.ctx.pool.start(worker)
        return worker

    def save(self, path: Path | None = None) -> Worker | None:
        if self.session is None:
            return None
        session = self.session

        def saved(written: Path) -> None:
            self._saved(written, session)

        return self._start(profile_io.save, session, path, on_done=saved, name="save")

    def save_as(self, path: Path | None = None) -> Worker | None:
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save session", "", SESSION_FILTER)
            if not chosen:
                return None
            path = profile_io.chosen_session_path(chosen)
        return self.save(path)

    def _saved(self, path: Path, session: ProfileSession) -> None:
        if self.unsaved is session:
            self.unsaved = None
        self.status.setText(f"Saved {path}")
        self.ctx.profiles.saved.emit(path)

    # ------------------------------------------------------------------ closing
    def confirm_close(self) -> bool:
        """A running or unsaved recording: Save / Discard / Cancel. True: fine to close.

        Save stops a running recording and writes the session here and now (the window is
        about to go, so no worker); a failed save is shown and keeps the window open."""
        self._wait_for_saves(PENDING_SAVE_WAIT_S)  # a Save clicked just before closing
        if self.recorder.recording:
            return self._settle("A profiling session is being recorded", "before closing")
        if self.unsaved is not None:
            what = f"The recorded profiling session ({len(self.unsaved.runs)} run(s)) is not saved"
            return self._settle(what, "before closing")
        return True

    def _settle(self, what: str, doing: str) -> bool:
        """Ask Save / Discard / Cancel about the running or unsaved recording; True when it
        was saved or discarded. Save writes here and now; a failed save is shown, False."""
        answer = save_discard_cancel(
            self,
            "Unsaved profiling session",
            f"{what}. Save it to the data home's sessions/ {doing}?",
        )
        if answer == Answer.Discard:
            self.discard()
            return True
        if answer != Answer.Save:
            return False
        session = self.stop() if self.recorder.recording else self.unsaved
        assert session is not None
        try:
            path = profile_io.save(None, session, session.path)
        except (WorkbenchError, OSError) as exc:
            self.status.setText(f"save failed: {exc}")
            report("error", f"profiling session not saved: {exc}")
            QMessageBox.critical(
                self,
                "Session not saved",
                f"{exc}\n\nNothing was discarded; the session is still in memory: Save As… "
                "to another place, or Discard it.",
            )
            return False
        self._saved(path, session)
        return True

    def discard(self) -> None:
        """Drop the running or unsaved recording (its sampler thread ends); no prompt."""
        self.recorder.stop()
        self.unsaved = None

    def _wait_for_saves(self, timeout_s: float) -> None:
        deadline = QDeadlineTimer(int(timeout_s * 1000))
        while any(w.name == "save" for w in self.workers) and not deadline.hasExpired():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)  # the worker's `done` arrives as a queued event

    def load(self, path: Path | str | None = None) -> Worker | None:
        if path is None:
            from engine.paths import sessions_dir

            chosen, _ = QFileDialog.getOpenFileName(
                self, "Load session", str(sessions_dir()), SESSION_FILTER + ";;JSON (*.json)"
            )
            if not chosen:
                return None
            path = chosen
        return self._start(profile_io.load, str(path), on_done=self.show_session, name="load")

    def show_session(self, session: ProfileSession) -> None:
        self.session = session
        self.status.setText(f"Viewing {session.path or session.name} (read-only).")
        self._update()
        self.ctx.profiles.show.emit(session)

    def export(self, kind: str, out: Path | None = None) -> Worker | None:
        if self.session is None:
            return None
        if out is None:
            title, pattern = (
                ("Chrome trace", "Trace (*.json)") if kind == "chrome" else ("CSV", "CSV (*.csv)")
            )
            chosen, _ = QFileDialog.getSaveFileName(self, f"Export {title}", "", pattern)
            if not chosen:
                return None
            out = profile_io.chosen_export_path(chosen, kind)
        fn = profile_io.export_chrome if kind == "chrome" else profile_io.export_csv
        return self._start(
            fn,
            self.session,
            out,
            on_done=lambda r: self.status.setText(f"Exported {r['path']}"),
            name=f"export {kind}",
        )
