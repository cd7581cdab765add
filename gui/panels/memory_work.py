"""The memory browser's long work: ingesting files or a folder (progress, Cancel) and
rebuilding the index. A mixin of `QtMemoryBrowser` (gui/panels/memory.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from engine.memory.ingest import IngestResult
from engine.progress import Progress
from gui import memory_tasks as tasks
from gui.bridge import Worker
from gui.context import AppContext
from gui.memory_store import StoreHandle
from gui.panels.memory_side import QtMemoryStats
from gui.widgets.progress import QtProgress


class LongWork:
    ctx: AppContext
    handle: StoreHandle | None
    ingest_worker: Worker | None
    buttons: dict[str, QPushButton]
    progress: QtProgress
    stats: QtMemoryStats
    finished: SignalInstance

    def _start(
        self, name: str, fn: Any, *args: Any, on_result: Any = None, start: bool = True
    ) -> Worker:
        raise NotImplementedError

    def reload(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ ingest, rebuild
    def ingest_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(cast(QWidget, self), "Files to ingest")
        if files:
            self.ingest([Path(f) for f in files])

    def ingest_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(cast(QWidget, self), "Folder to ingest")
        if folder:
            self.ingest([Path(folder)])

    def ingest(self, targets: list[Path]) -> None:
        if self.handle is None or self.ingest_worker is not None:
            return
        args = (self.handle, targets)
        worker = self._start(
            "ingest", tasks.ingest_paths, *args, on_result=self._ingested, start=False
        )
        worker.signals.yielded.connect(self._progress)
        worker.signals.errored.connect(lambda exc: self.progress.end(f"failed: {exc}"))
        worker.signals.aborted.connect(self._ingest_cancelled)
        worker.signals.done.connect(self._ingest_done)
        self.ingest_worker = worker
        for key in ("files", "folder"):
            self.buttons[key].setEnabled(False)
        self.progress.begin(f"Ingesting {', '.join(p.name for p in targets)}")
        self.ctx.pool.start(worker)

    def _progress(self, item: object) -> None:

        if isinstance(item, Progress):
            self.progress.update_progress(item)

    def _ingested(self, result: IngestResult) -> None:
        self.progress.end(
            f"{result.files} files, {result.chunks} chunks ({result.skipped} unchanged) "
            f"in {result.seconds:.1f} s"
        )

    def _ingest_cancelled(self) -> None:
        self.progress.end("cancelled: the files finished before the cancel are kept")
        self.finished.emit("ingest cancelled")

    def _ingest_done(self) -> None:
        self.ingest_worker = None
        for key in ("files", "folder"):
            self.buttons[key].setEnabled(True)
        self.reload()

    def cancel_ingest(self) -> None:
        if self.ingest_worker is not None:
            self.ingest_worker.abort()

    def _rebuilt(self, stats: dict[str, Any]) -> None:
        self.progress.end("index rebuilt")
        self.stats.show_stats(stats)

    def rebuild(self, reembed: bool) -> None:
        if self.handle is None:
            return
        self.progress.begin(f"Rebuilding the index of {self.handle.name}")
        args = (self.handle, reembed)
        worker = self._start("rebuild", tasks.rebuild, *args, on_result=self._rebuilt, start=False)
        worker.signals.yielded.connect(self._progress)
        worker.signals.errored.connect(lambda exc: self.progress.end(f"failed: {exc}"))
        self.ctx.pool.start(worker)
