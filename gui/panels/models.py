"""`QtModelManager`: prepared models with their manifests, the runtime provider, and
preparing a new model (see `model_prepare`)."""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime as ort
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.llm.providers import CHOICES
from engine.llm.session import LLMSession
from engine.manifest import Manifest
from gui.bridge import Worker
from gui.context import AppContext
from gui.panels.model_prepare import QtPrepareBox
from gui.panels.registry import register_panel
from gui.sessions import load_session

COLUMNS = ("name", "family", "attention", "quantization", "size", "agreement", "kind", "source")


def _list_models() -> list[tuple[Path, Manifest]]:
    from engine.manifest import prepared_models

    return prepared_models()


def manifest_row(m: Manifest, folder: Path) -> tuple[str, ...]:
    agreement = m.validation.get("top1_agreement")
    entry = m.summary(folder)
    return (
        m.name,
        entry["family"],
        "fused" if entry["fused"] else "-" if m.kind == "embedder" else "unfused",
        str(m.quantization.get("recipe", "?")),
        f"{m.size_bytes / 1e6:,.0f} MB",
        f"{agreement:.3f}" if agreement is not None else "not validated",
        "instruct" if m.instruct else "base",
        f"{m.source.get('type', '?')}: {m.source.get('label', '')}",
    )


def manifest_details(m: Manifest, folder: Path) -> str:
    v = m.validation
    entry = m.summary(folder)
    lines = [
        f"{m.name}  ({m.kind}, {'instruct' if m.instruct else 'base'}, context {m.context_length})",
        f"folder: {folder}",
        f"family: {entry['family']}; attention {entry['fusion_note']}",
        f"source: {m.source.get('type')} {m.source.get('path', '')}",
        f"  sha256 {str(m.source.get('sha256', ''))[:16]}…",
        f"quantization: {m.quantization.get('recipe')}  opset {m.opset}",
        f"size: {m.size_bytes / 1e6:,.1f} MB in {len(m.files)} files",
    ]
    if v:
        lines.append(
            f"validation: top-1 agreement {v.get('top1_agreement', 0):.3f}, perplexity "
            f"{v.get('perplexity', 0):.2f} (fp32 {v.get('perplexity_fp32', 0):.2f}), "
            f"KL {v.get('kl', v.get('mean_kl', 0)):.4f}"
        )
    lines.append(f"created {m.created}; tools {json.dumps(m.tools)}")
    return "\n".join(lines)


@register_panel("models", "Models", area="left", order=10, shortcut="Ctrl+1", tab_with="designer")
class QtModelManager(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.manifests: list[Manifest] = []
        self.folders: list[Path] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setMaximumHeight(110)
        self.empty = QLabel("")
        self.empty.setObjectName("reason")
        self.empty.setWordWrap(True)
        refresh = QPushButton("Refresh")
        refresh.setShortcut("F5")
        refresh.clicked.connect(self.refresh)

        self.provider = QComboBox()
        self.provider.addItems(list(CHOICES))
        self.spin = QCheckBox("Spin-wait threads")
        self.spin.setChecked(ctx.sessions.spinning)
        self.spin.setToolTip(
            "ONNX Runtime's threads busy-wait between operators, as in `main.py generate`:\n"
            "~20% faster decoding on an idle machine, slower when other work needs the cores.\n"
            "Takes effect at the next Load (AGENT_WORKBENCH_GUI_SPIN=0/1 overrides it)."
        )
        self.spin.setEnabled(not ctx.sessions.spinning_from_env)
        self.spin.toggled.connect(self._spin_toggled)
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("primary")
        self.load_button.clicked.connect(self.load_selected)
        self.runtime = QLabel(self._compiled_text())
        self.runtime.setWordWrap(True)
        self.runtime.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        runtime_box = QGroupBox("Runtime")
        row = QHBoxLayout()
        row.addWidget(QLabel("Provider"))
        row.addWidget(self.provider, 1)
        row.addWidget(self.spin)
        row.addWidget(self.load_button)
        runtime_layout = QVBoxLayout(runtime_box)
        runtime_layout.addLayout(row)
        runtime_layout.addWidget(self.runtime)

        self.prepare_box = QtPrepareBox(ctx)
        self.prepare_box.prepared.connect(self._on_prepared)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(QLabel("Prepared models"), 1)
        header.addWidget(refresh)
        top_layout.addLayout(header)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.empty)
        top_layout.addWidget(self.details)
        top_layout.addWidget(runtime_box)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.prepare_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        ctx.sessions.changed.connect(self._on_session)
        self.refresh()

    # ------------------------------------------------------------------ list
    def refresh(self) -> None:
        listed = _list_models()
        self.folders = [folder for folder, _ in listed]
        self.manifests = [m for _, m in listed]
        self.table.setRowCount(len(self.manifests))
        attention = COLUMNS.index("attention")
        for r, (folder, m) in enumerate(listed):
            for c, text in enumerate(manifest_row(m, folder)):
                item = QTableWidgetItem(text)
                if c == attention:  # why it is (not) fused, on hover
                    item.setToolTip(m.summary(folder)["fusion_note"])
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.empty.setVisible(not self.manifests)
        self.empty.setText(
            "No prepared models yet: prepare the default one below "
            "(or run python main.py model prepare)."
        )
        self.load_button.setEnabled(bool(self.manifests))
        if self.manifests:
            self.table.selectRow(0)

    def selected(self) -> Manifest | None:
        rows = self.table.selectionModel().selectedRows()
        return self.manifests[rows[0].row()] if rows else None

    def select_model(self, name: str) -> None:
        for r, m in enumerate(self.manifests):
            if m.name == name:
                self.table.selectRow(r)

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.details.setPlainText("")
            return
        row = rows[0].row()
        self.details.setPlainText(manifest_details(self.manifests[row], self.folders[row]))

    def _on_prepared(self, name: str) -> None:
        self.refresh()
        self.select_model(name)

    # ------------------------------------------------------------------ runtime
    @staticmethod
    def _compiled_text() -> str:
        compiled = ", ".join(ort.get_available_providers())
        return f"No session loaded. This onnxruntime {ort.__version__} offers: {compiled}."

    def load_selected(self) -> None:
        m = self.selected()
        if m is None:
            return
        self.load_button.setEnabled(False)
        self.runtime.setText(f"Loading {m.name} on {self.provider.currentText()}…")
        worker = Worker(
            load_session,
            self.ctx.sessions,
            m.name,
            self.provider.currentText(),
            name=f"load {m.name}",
        )
        worker.signals.errored.connect(lambda exc: self.runtime.setText(f"Load failed: {exc}"))
        worker.signals.done.connect(lambda: self.load_button.setEnabled(True))
        self.ctx.pool.start(worker)

    def _spin_toggled(self, on: bool) -> None:
        self.ctx.sessions.spinning = on
        self.ctx.settings.setValue("runtime/spin", "true" if on else "false")
        if self.ctx.sessions.current_spins not in (None, on):
            self.runtime.setText(
                self.runtime.text() + "<br>Spin-wait changed: Load again to apply it."
            )

    def _on_session(self, session: LLMSession) -> None:
        report = session.provider
        spins = "on" if self.ctx.sessions.current_spins else "off"
        text = (
            f"<b>{session.manifest.name}</b>: asked for <b>{report.requested}</b>, "
            f"<b>{report.describe()}</b><br>session providers: "
            f"{', '.join(report.session_providers)}; spin-wait {spins}"
        )
        if not report.reasons:
            text += "<br>(the first choice was available)"
        self.runtime.setText(text)
