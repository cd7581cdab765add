"""`QtPrepareBox`: prepare a model (default, Hugging Face folder, GGUF file) in a worker,
with live progress and Cancel (engine.progress Reporter / CancelToken)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.progress import Progress
from gui.bridge import TaskState, Worker, report
from gui.context import AppContext
from gui.widgets.progress import QtProgress

SOURCES = ("default", "Hugging Face folder", "GGUF file")


def _recipes() -> tuple[list[str], str]:
    from engine.models.prepare import default_quant
    from engine.models.quantize import RECIPES

    return list(RECIPES), default_quant()


def run_prepare(
    state: TaskState, source: str, quant: str, name: str | None, fuse: bool = True
) -> str:
    """Worker body: the engine's `prepare`, progress re-emitted as items."""
    from engine.models.prepare import prepare

    result = prepare(
        source=source,
        quant=quant,
        name=name,
        progress=state.emit,
        cancel=state.cancel,
        fuse=fuse,
    )
    return result.manifest.name


class QtPrepareBox(QGroupBox):
    prepared = Signal(str)  # the model name

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Prepare a model", parent)
        self.ctx = ctx
        self.worker: Worker | None = None
        self.kind = QComboBox()
        self.kind.addItems(list(SOURCES))
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder or .gguf file")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.recent = QComboBox()
        self.recent.activated.connect(self._pick_recent)
        self.quant = QComboBox()
        recipes, default = _recipes()
        self.quant.addItems(recipes)
        self.quant.setCurrentText(default)
        self.fuse = QCheckBox("Fuse attention (GroupQueryAttention)")
        self.fuse.setChecked(True)
        self.fuse.setToolTip(
            "Uncheck to keep optimum's unfused graph (slower), e.g. when fusion fails"
        )
        self.name = QLineEdit()
        self.name.setPlaceholderText("derived from the source")
        self.start_button = QPushButton("Prepare")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start)
        self.progress = QtProgress()
        self.progress.cancel_requested.connect(self.cancel)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Source", self.kind)
        form.addRow("Path", path_row)
        form.addRow("Recent", self.recent)
        form.addRow("Quantization", self.quant)
        form.addRow("", self.fuse)
        form.addRow("Name", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.start_button)
        layout.addWidget(self.progress)
        self._fill_recent()
        self._kind_changed()

    def _kind_changed(self) -> None:
        is_path = self.kind.currentText() != "default"
        for w in (self.path, self.browse, self.recent):
            w.setEnabled(is_path)

    def _fill_recent(self) -> None:
        self.recent.clear()
        items = self.ctx.recent_models.items()
        self.recent.addItems([str(p) for p in items] or ["(none yet)"])

    def _pick_recent(self) -> None:
        path = Path(self.recent.currentText())
        if path.exists():
            self.path.setText(str(path))
            self.kind.setCurrentText("GGUF file" if path.is_file() else "Hugging Face folder")

    def _browse(self) -> None:
        if self.kind.currentText() == "GGUF file":
            path, _ = QFileDialog.getOpenFileName(self, "GGUF file", "", "GGUF (*.gguf)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Hugging Face model folder")
        if path:
            self.path.setText(path)

    def source(self) -> str:
        if self.kind.currentText() == "default":
            return "default"
        return self.path.text().strip()

    def start(self) -> None:
        source = self.source()
        if not source:
            report("warning", "choose the folder or GGUF file to prepare first")
            return
        if source != "default":
            self.ctx.recent_models.add(source)
            self._fill_recent()
        name = self.name.text().strip() or None
        worker = Worker(
            run_prepare,
            source,
            self.quant.currentText(),
            name,
            self.fuse.isChecked(),
            name="prepare",
        )
        worker.signals.yielded.connect(self._on_progress)
        worker.signals.returned.connect(self._on_done)
        worker.signals.errored.connect(lambda exc: self.progress.end(f"failed: {exc}"))
        worker.signals.aborted.connect(lambda: self.progress.end("cancelled: nothing was kept"))
        worker.signals.done.connect(self._finished)
        self.worker = worker
        self.start_button.setEnabled(False)
        self.progress.begin(f"Preparing {source} ({self.quant.currentText()})")
        self.ctx.pool.start(worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.abort()

    def _on_progress(self, item: object) -> None:
        if isinstance(item, Progress):
            self.progress.update_progress(item)

    def _on_done(self, name: str) -> None:
        self.progress.end(f"prepared {name}")
        report("info", f"model {name} is prepared")
        self.prepared.emit(name)

    def _finished(self) -> None:
        self.worker = None
        self.start_button.setEnabled(True)
