"""`QtBenchMatrix`: the benchmark matrix (engine `bench matrix`) as a table and a bar chart.

Run it in a worker (each combination in its own worker process, as on the command line;
engine progress with Cancel, which keeps the finished combinations), or load a saved
matrix session. Each row shows median (min-max) of TTFT, prefill and decode tok/s; the
chart shows the chosen metric's median as a bar with a min-max whisker per row.

Run batch runs `bench batch` on the first named model: one row per engine and
concurrency level (aggregate and per-stream decode tok/s, TTFT, inter-token p50/p99),
charted as aggregate decode tok/s per level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import WorkbenchError
from engine.progress import Progress
from gui.bridge import Worker
from gui.context import AppContext
from gui.matrix_work import ints, load_matrix, run_batch_worker, run_matrix_worker
from gui.panels.registry import register_panel
from gui.widgets.bars import BarChart
from gui.widgets.progress import QtProgress

COLUMNS = ("model", "quant", "provider", "threads", "prompt", "runs", "TTFT ms",
           "prefill tok/s", "decode tok/s", "peak RSS MB", "GPU MB")  # fmt: skip
BATCH_COLUMNS = ("engine", "streams", "aggregate tok/s", "per stream tok/s", "TTFT ms",
                 "ITL p50 ms", "ITL p99 ms")  # fmt: skip
METRICS = {"decode_tok_s": ("decode tok/s", 1), "prefill_tok_s": ("prefill tok/s", 0),
           "ttft_ms": ("TTFT ms", 0)}  # fmt: skip


@register_panel("bench_matrix", "Benchmark matrix", area="bottom", order=34, tab_with="profiler")
class QtBenchMatrix(QWidget):
    finished = Signal(str, object)  # (action, result or exception)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.worker: Worker | None = None
        self.result: dict[str, Any] | None = None
        self.models = QLineEdit("default")
        self.threads = QLineEdit("")
        self.threads.setPlaceholderText("default: physical cores")
        self.prompts = QLineEdit("209")
        self.runs = QSpinBox(minimum=1, maximum=100, value=3)
        self.warmup = QSpinBox(minimum=0, maximum=10, value=1)
        self.new_tokens = QSpinBox(minimum=1, maximum=4096, value=128)
        self.only_named = QCheckBox("only the named models (not their other quantizations)")
        self.concurrency = QLineEdit("1 2 4")
        self.vs_llamacpp = QCheckBox("beside llama.cpp (the peers extra)")
        form = QFormLayout()
        form.addRow("Models", self.models)
        form.addRow("Threads", self.threads)
        form.addRow("Prompt tokens", self.prompts)
        counts = QHBoxLayout()
        for label, box in (("runs", self.runs), ("warm-up", self.warmup),
                           ("new tokens", self.new_tokens)):  # fmt: skip
            counts.addWidget(QLabel(label))
            counts.addWidget(box)
        counts.addWidget(self.only_named)
        counts.addStretch(1)
        form.addRow("", counts)
        batch_row = QHBoxLayout()
        batch_row.addWidget(self.concurrency)
        batch_row.addWidget(self.vs_llamacpp)
        form.addRow("Concurrency", batch_row)
        self.run_button = QPushButton("Run matrix")
        self.run_button.clicked.connect(lambda: self.run())
        self.batch_button = QPushButton("Run batch")
        self.batch_button.setToolTip("bench batch: several streams at once, per concurrency")
        self.batch_button.clicked.connect(lambda: self.run_batch())
        self.load_button = QPushButton("Load matrix session…")
        self.load_button.clicked.connect(lambda: self.load())
        self.metric_box = QComboBox()
        for key, (label, _) in METRICS.items():
            self.metric_box.addItem(label, key)
        self.metric_box.currentIndexChanged.connect(lambda *_: self._chart())
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.batch_button)
        buttons.addWidget(self.load_button)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("chart"))
        buttons.addWidget(self.metric_box)
        self.progress = QtProgress()
        self.progress.cancel_requested.connect(self.cancel)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.chart = BarChart(ctx.theme)
        self.batch_result: dict[str, Any] | None = None
        self.batch_table = QTableWidget(0, len(BATCH_COLUMNS))
        self.batch_table.setHorizontalHeaderLabels(list(BATCH_COLUMNS))
        self.batch_table.verticalHeader().setVisible(False)
        self.batch_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.batch_chart = BarChart(ctx.theme)
        self.status = QLabel("Run a matrix or load a saved one.")
        self.status.setWordWrap(True)
        self.status.setObjectName("caption")
        matrix_row = QHBoxLayout()
        matrix_row.addWidget(self.table, 3)
        matrix_row.addWidget(self.chart, 2)
        batch_tables = QHBoxLayout()
        batch_tables.addWidget(self.batch_table, 3)
        batch_tables.addWidget(self.batch_chart, 2)
        tables = QVBoxLayout()
        tables.addLayout(matrix_row, 1)
        tables.addLayout(batch_tables, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addLayout(tables, 1)
        layout.addWidget(self.status)
        ctx.theme_changed.connect(self._on_theme)

    def _on_theme(self, theme: Any) -> None:
        self.chart.apply_theme(theme)
        self.batch_chart.apply_theme(theme)
        self._chart()
        self._batch_chart()

    # ------------------------------------------------------------------ run
    def config(self) -> Any:
        from engine.manifest import model_folder
        from engine.telemetry.matrix import MatrixConfig

        models = self.models.text().split()
        if not models:
            raise WorkbenchError("name at least one prepared model (e.g. default)")
        return MatrixConfig(
            models=tuple(model_folder(m) for m in models),
            threads=ints(self.threads.text(), "Threads"),
            runs=self.runs.value(),
            warmup=self.warmup.value(),
            prompt_tokens=ints(self.prompts.text(), "Prompt tokens") or (209,),
            new_tokens=self.new_tokens.value(),
            siblings=not self.only_named.isChecked(),
        )

    def run(self, out: Path | None = None) -> Worker | None:
        if self.worker is not None:
            return None
        try:
            config = self.config()
        except WorkbenchError as exc:
            self.status.setText(f"Cannot run: {exc}")
            return None
        self.progress.begin("bench matrix")
        worker = self._start("run", run_matrix_worker, config, out)
        worker.signals.yielded.connect(self._on_item)
        self.worker = worker
        self.run_button.setEnabled(False)
        return worker

    def batch_config(self) -> Any:
        from engine.manifest import model_folder
        from engine.telemetry.bench_batch import BatchBenchConfig

        models = self.models.text().split()
        if not models:
            raise WorkbenchError("name a prepared model (e.g. default)")
        levels = ints(self.concurrency.text(), "Concurrency")
        if not levels or min(levels) < 1:
            raise WorkbenchError("Concurrency: one or more levels >= 1 (e.g. 1 2 4 8)")
        threads = ints(self.threads.text(), "Threads")
        prompts = ints(self.prompts.text(), "Prompt tokens")
        return BatchBenchConfig(
            model=model_folder(models[0]),
            concurrency=levels,
            prompt_tokens=prompts[0] if prompts else 209,
            new_tokens=max(2, self.new_tokens.value()),
            runs=self.runs.value(),
            warmup=self.warmup.value(),
            threads=threads[0] if threads else None,
            vs=["llamacpp"] if self.vs_llamacpp.isChecked() else [],
        )

    def run_batch(self) -> Worker | None:
        if self.worker is not None:
            return None
        try:
            config = self.batch_config()
        except WorkbenchError as exc:
            self.status.setText(f"Cannot run: {exc}")
            return None
        self.progress.begin("bench batch")
        worker = self._start("batch", run_batch_worker, config)
        worker.signals.yielded.connect(self._on_item)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.batch_button.setEnabled(False)
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.state.cancel.cancel()  # finished combinations are kept and saved
            self.status.setText("Cancelling after the current run…")

    def _on_item(self, item: object) -> None:
        if isinstance(item, Progress):
            self.progress.update_progress(item)
        elif isinstance(item, str):
            self.status.setText(item)

    def load(self, path: str | Path | None = None) -> Worker | None:
        if path is None:
            from engine.paths import sessions_dir

            chosen, _ = QFileDialog.getOpenFileName(
                self, "Matrix session", str(sessions_dir()), "Profiling sessions (*.awprof.json)"
            )
            if not chosen:
                return None
            path = chosen
        return self._start("load", load_matrix, str(path))

    def _start(self, name: str, fn: Any, *args: Any) -> Worker:
        worker = Worker(fn, *args, name=f"bench matrix {name}")
        shown = self.show_batch if name == "batch" else self.show_result
        worker.signals.returned.connect(shown)
        worker.signals.returned.connect(lambda r: self.finished.emit(name, r))
        worker.signals.errored.connect(self._failed)
        worker.signals.errored.connect(lambda exc: self.finished.emit(name, exc))
        worker.signals.done.connect(lambda: self._done(worker))
        self.ctx.pool.start(worker)
        return worker

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Failed: {exc}")
        self.progress.end("failed")

    def _done(self, worker: Worker) -> None:
        if worker is self.worker:
            self.worker = None
            self.run_button.setEnabled(True)
            self.batch_button.setEnabled(True)

    # ------------------------------------------------------------------ show
    def show_result(self, result: dict[str, Any]) -> None:
        self.result = result
        rows = result["rows"]
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            gpu = f"{r['gpu_mem_mb']:.0f}" if r.get("gpu_mem_mb") is not None else "n/a"
            cells = [r["model"], str(r["quantization"]), r["provider"], str(r["threads"]),
                     str(r.get("prompt_tokens", "")), str(r["runs"]), _cell(r["ttft_ms"], 0),
                     _cell(r["prefill_tok_s"], 0), _cell(r["decode_tok_s"], 1),
                     f"{r['peak_rss_mb']:.0f}", gpu]  # fmt: skip
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        notes = [f"skipped {s.get('model', 'all models')} on {s['provider']}: {s['reason']}"
                 for s in result.get("skipped", [])]  # fmt: skip
        if result.get("cancelled"):
            notes.append("cancelled: the table holds the combinations that finished")
            self.progress.end("cancelled")
        else:
            self.progress.end("done")
        notes.append(
            f"{result['new_tokens']} new tokens, {result['runs']} runs (+{result['warmup']} "
            f"warm-up) per row; median (min-max). Session: {result.get('session')}"
        )
        self.status.setText("\n".join(notes))
        self._chart()
        if result.get("session"):
            self.ctx.profiles.saved.emit(Path(result["session"]))

    def _chart(self) -> None:
        if self.result is None:
            return
        key = self.metric_box.currentData()
        label, _ = METRICS[key]
        rows = self.result["rows"]
        labels = [f"{r['quantization']} {r['provider']} t{r['threads']}" for r in rows]
        values = [(r[key]["median"], r[key]["min"], r[key]["max"]) for r in rows]
        self.chart.set_bars(f"{label}: median, min-max", labels, values)

    def show_batch(self, result: dict[str, Any]) -> None:
        self.batch_result = result
        rows = _batch_rows(result)
        self.batch_table.setRowCount(len(rows))
        for i, (side, lv) in enumerate(rows):
            cells = [side, str(lv["concurrency"]), _cell(lv["aggregate_decode_tok_s"], 1),
                     _cell(lv["per_stream_decode_tok_s"], 1), _cell(lv["ttft_ms"], 0),
                     _cell(lv["itl_p50_ms"], 1), _cell(lv["itl_p99_ms"], 1)]  # fmt: skip
            for j, text in enumerate(cells):
                self.batch_table.setItem(i, j, QTableWidgetItem(text))
        self.batch_table.resizeColumnsToContents()
        cpu = result.get("cpu", {})
        notes = [
            f"bench batch: {result['model']}, {result['prompt_tokens']}-token prompts, "
            f"{result['new_tokens']} new tokens per stream, {result['runs']} runs per level; "
            f"median (min-max). CPU {cpu.get('model', '?')} [{' '.join(cpu.get('flags', []))}]"
        ]
        from engine.telemetry.bench_batch import result_notes  # not at start-up

        notes += result_notes(result)
        if result.get("cancelled"):
            notes.append("cancelled: the table holds the runs that finished")
            self.progress.end("cancelled")
        else:
            self.progress.end("done")
        self.status.setText("\n".join(notes))
        self._batch_chart()

    def _batch_chart(self) -> None:
        if self.batch_result is None:
            return
        rows = _batch_rows(self.batch_result)
        labels = [f"{side} x{lv['concurrency']}" for side, lv in rows]
        values = [
            (
                lv["aggregate_decode_tok_s"]["median"],
                lv["aggregate_decode_tok_s"]["min"],
                lv["aggregate_decode_tok_s"]["max"],
            )
            for _, lv in rows
        ]
        self.batch_chart.set_bars("aggregate decode tok/s: median, min-max", labels, values)


def _batch_rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [("ours", lv) for lv in result.get("levels", [])]
    for peer in ("llamacpp",):
        rows += [(peer, lv) for lv in result.get(peer, {}).get("levels", [])]
    return rows


def _cell(spread: dict[str, float], digits: int) -> str:
    return (
        f"{spread['median']:,.{digits}f} ({spread['min']:,.{digits}f}-{spread['max']:,.{digits}f})"
    )
