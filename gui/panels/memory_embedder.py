"""`QtEmbedderBanner`: says when no embedder is prepared, and prepares the default one.

Search, editing and ingestion embed text; without a prepared embedder the browser can
still list, pin, delete and show stats. The banner names the fix and offers a button
that runs the engine's `prepare_embedder` in a worker with progress and Cancel.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from engine.memory.settings import MemorySettings
from engine.progress import Progress
from gui import memory_tasks as tasks
from gui.bridge import Worker, report
from gui.context import AppContext
from gui.memory_store import embedder_ready, settings_or_defaults
from gui.widgets.progress import QtProgress

DEFAULT_NAME = "default-embedder"
COMMAND = "python main.py model prepare --source embedder-default"


class QtEmbedderBanner(QWidget):
    prepared = Signal(str)  # the embedder's name

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.settings = MemorySettings()
        self.ready = False
        self.worker: Worker | None = None
        self.message = QLabel("")
        self.message.setObjectName("reason")
        self.message.setWordWrap(True)
        self.button = QPushButton("Prepare the default embedder (all-MiniLM-L6-v2, int8)")
        self.button.setObjectName("primary")
        self.button.clicked.connect(self.prepare)
        self.progress = QtProgress()
        self.progress.cancel_requested.connect(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.button)
        layout.addWidget(self.progress)

    def check(self) -> MemorySettings:
        """Re-read the settings, show or hide the message; returns the settings."""
        self.settings, problem = settings_or_defaults()
        if problem:
            report("error", f"memory settings: {problem}")
        self.ready = embedder_ready(self.settings)
        default = self.settings.embedder == DEFAULT_NAME
        self.message.setText(
            ""
            if self.ready
            else (
                f"No embedder is prepared ({self.settings.embedder_folder()} has no model.json): "
                "search, editing and ingestion need one; listing, pinning, deleting and stats "
                "work without it. Fix: "
                + (
                    f"press the button below, or run `{COMMAND}`."
                    if default
                    else f"prepare the embedder {self.settings.embedder!r} named in settings.toml "
                    f"[memory], or remove that line to use the default ({COMMAND})."
                )
            )
        )
        self.button.setVisible(not self.ready and default)
        self.setVisible(not self.ready or self.worker is not None)
        return self.settings

    def prepare(self) -> None:
        if self.worker is not None:
            return
        worker = Worker(tasks.prepare_default_embedder, name="prepare the default embedder")
        worker.signals.yielded.connect(self._progress)
        worker.signals.returned.connect(self._prepared)
        worker.signals.errored.connect(lambda exc: self.progress.end(f"failed: {exc}"))
        worker.signals.aborted.connect(lambda: self.progress.end("cancelled: nothing was kept"))
        worker.signals.done.connect(self._done)
        self.worker = worker
        self.button.setEnabled(False)
        self.progress.begin("Preparing the default embedder")
        self.ctx.pool.start(worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.abort()

    def _progress(self, item: object) -> None:
        if isinstance(item, Progress):
            self.progress.update_progress(item)

    def _prepared(self, name: str) -> None:
        self.progress.end(f"prepared {name}")
        report("info", f"the embedder {name} is prepared")
        self.prepared.emit(name)

    def _done(self) -> None:
        self.worker = None
        self.button.setEnabled(True)
        self.check()
