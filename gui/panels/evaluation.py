"""`QtEvaluation`: run an agent on an evaluation suite and read the results (docs/evaluation.md).

Pick the agent file (or the suite's own), the suite (shipped or the person's) and, for a
matrix, model names; Run starts `gui.eval_job.run_suite` in a worker: progress with
Cancel (the finished task runs are kept in the saved result set), the results table
filling cell by cell, the running task's events as step cards. Tools with approval `ask`
are refused (nobody is there to approve them) unless "Allow tools that ask" is ticked; an
agent file with trust items asks the run console's trust question first. Saved lists the
result sets in the data home's evals/ (open one), Compare shows two side by side, Suite
edits the suite's text. The designer's "Run suite" (`ctx.agents.evaluate`) opens this
panel on the designer's file and starts the run: edit -> run -> read -> compare, one click.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine import paths
from engine.agent import events as ev
from engine.errors import WorkbenchError
from engine.eval import results
from engine.eval.compare import compare
from engine.eval.editing import user_suites_dir
from engine.eval.results import ResultSet
from engine.eval.runner import (
    SuiteFinished,
    SuiteStarted,
    TaskEvent,
    TaskFinished,
    TaskStarted,
)
from engine.eval.suitefile import SUFFIX, shipped
from engine.progress import Progress
from gui.agent_job import NeedsTrust
from gui.bridge import Worker, report
from gui.context import AppContext
from gui.eval_job import SuiteRequest, run_suite, session_variant_models
from gui.panels.registry import register_panel
from gui.widgets.eval_compare import EvalCompareView
from gui.widgets.eval_results import EvalResultsView, plain_tooltip
from gui.widgets.progress import QtProgress
from gui.widgets.run_dialogs import TrustDialog
from gui.widgets.suite_editor import SuiteEditor

#: Token events cross from the worker in batches of this many seconds; others at once.
TOKEN_BATCH_S = 0.1
SAVED_COLUMNS = ("file", "suite", "created", "status", "task runs", "pass rate")
APPROVE_NOTE = (
    "off: tools with approval 'ask' are refused (nobody approves them during a suite); "
    "on: they all run without asking"
)


def _batchable(item: object) -> bool:
    return isinstance(item, Progress) or (
        isinstance(item, TaskEvent) and isinstance(item.event, ev.TokenDelta)
    )


@register_panel("evaluation", "Evaluation", area="right", order=27, tab_with="run")
class QtEvaluation(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.models = session_variant_models(ctx.sessions)  # tests plug a scripted model in
        self.worker: Worker | None = None
        self.dialog: QDialog | None = None
        self.request: SuiteRequest | None = None
        self.trusted: set[str] = set()
        self.status_text = ""
        self.last_status = ""  # the last run's SuiteFinished status
        self._running: tuple[str, str, int] | None = None
        self._saved_rows: list[dict[str, Any]] = []
        self._console_task = ""  # the run console's running task (ctx.agents.run_events)
        # ---- what to run
        self.agent = QComboBox()
        self.agent.setMinimumContentsLength(30)
        self.agent.addItem("(the suite's own agent)", None)
        agent_browse = QPushButton("Browse…")
        agent_browse.clicked.connect(self.browse_agent)
        self.suite = QComboBox()
        self.suite.setMinimumContentsLength(30)
        for name, path in shipped().items():
            self.suite.addItem(f"{name} (shipped)", str(path))
        for path in sorted(user_suites_dir(create=False).glob(f"*{SUFFIX}")):
            self.suite.addItem(path.name, str(path))
        self.suite.currentIndexChanged.connect(self._suite_chosen)
        suite_browse = QPushButton("Browse…")
        suite_browse.clicked.connect(self.browse_suite)
        self.model_names = QLineEdit()
        self.model_names.setPlaceholderText(
            "the agent file's model; several names (space-separated) make a matrix"
        )
        self.approve_all = QCheckBox("Allow tools that ask (approve all)")
        self.approve_all.setToolTip(APPROVE_NOTE)
        note = QLabel(APPROVE_NOTE)
        note.setObjectName("caption")
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Agent", _row(self.agent, agent_browse))
        form.addRow("Suite", _row(self.suite, suite_browse))
        form.addRow("Models", self.model_names)
        form.addRow("", _row(self.approve_all, note))
        self.run_button = QPushButton("Run suite")
        self.run_button.setObjectName("primary")
        self.run_button.clicked.connect(lambda: self.run())
        self.load_button = QPushButton("Open result set…")
        self.load_button.clicked.connect(lambda: self.load_result())
        self.status = QLabel("Choose an agent and a suite, then Run suite.")
        self.status.setObjectName("caption")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.status, 1)
        self.progress = QtProgress()
        self.progress.cancel_requested.connect(self.cancel)
        # ---- the tabs
        self.results = EvalResultsView(ctx.theme)
        self.saved = QTableWidget(0, len(SAVED_COLUMNS))
        self.saved.setHorizontalHeaderLabels(list(SAVED_COLUMNS))
        self.saved.verticalHeader().setVisible(False)
        self.saved.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.saved.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.saved.cellDoubleClicked.connect(lambda row, _c: self.open_saved(row))
        open_saved = QPushButton("Open")
        open_saved.clicked.connect(lambda: self.open_saved(self.saved.currentRow()))
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(lambda: self.refresh_saved())
        self.saved_tab = saved_tab = QWidget()
        saved_layout = QVBoxLayout(saved_tab)
        saved_layout.setContentsMargins(0, 0, 0, 0)
        saved_layout.addWidget(self.saved, 1)
        saved_layout.addLayout(_box(open_saved, refresh))
        self.side_a, self.side_b = QComboBox(), QComboBox()
        for box in (self.side_a, self.side_b):
            box.setMinimumContentsLength(24)
        compare_button = QPushButton("Compare")
        compare_button.clicked.connect(lambda: self.compare())
        self.comparison = EvalCompareView(ctx.theme)
        self.compare_tab = compare_tab = QWidget()
        compare_layout = QVBoxLayout(compare_tab)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        compare_layout.addLayout(
            _box(QLabel("A"), self.side_a, QLabel("B"), self.side_b, compare_button)
        )
        compare_layout.addWidget(self.comparison, 1)
        self.editor = SuiteEditor()
        self.editor.saved.connect(self._suite_saved)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(saved_tab, "Saved")
        self.tabs.addTab(compare_tab, "Compare")
        self.tabs.addTab(self.editor, "Suite")
        self.tabs.currentChanged.connect(self._on_tab)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.tabs, 1)
        for path in reversed(ctx.recent_agents.items()):
            self.set_agent(path)
        self.agent.setCurrentIndex(0)
        ctx.agents.opened.connect(self.set_agent)
        ctx.agents.evaluate.connect(self.evaluate)
        ctx.agents.run_events.connect(self._on_console_events)
        ctx.theme_changed.connect(self._on_theme)
        self._suite_chosen()

    def _on_theme(self, theme: Any) -> None:
        self.results.apply_theme(theme)
        self.comparison.apply_theme(theme)

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) in (self.saved_tab, self.compare_tab):
            self.refresh_saved()

    # ------------------------------------------------------------------ choices
    def set_agent(self, path: Path | str, select: bool = False) -> None:
        text = str(Path(path).expanduser().resolve())
        index = self.agent.findData(text)
        if index < 0:
            self.agent.insertItem(1, text, text)
            index = 1
        if select:
            self.agent.setCurrentIndex(index)

    def set_suite(self, path: Path | str) -> None:
        text = str(Path(path).expanduser().resolve())
        index = self.suite.findData(text)
        if index < 0:
            self.suite.addItem(Path(text).name, text)
            index = self.suite.count() - 1
        self.suite.setCurrentIndex(index)

    def suite_path(self) -> Path | None:
        data = self.suite.currentData()
        return Path(data) if data else None

    def agent_path(self) -> Path | None:
        data = self.agent.currentData()
        return Path(data) if data else None

    def browse_agent(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Agent file", str(paths.agents_dir()), "Agent files (*.agent.yaml)"
        )
        if path:
            self.set_agent(path, select=True)

    def browse_suite(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Suite file", str(user_suites_dir()), f"Suites (*{SUFFIX})"
        )
        if path:
            self.set_suite(path)

    def _suite_chosen(self, *_: object) -> None:
        path = self.suite_path()
        if path is not None and path != self.editor.path:
            self.editor.open(path)

    def _suite_saved(self, path: Path) -> None:
        self.suite.blockSignals(True)
        self.set_suite(path)
        self.suite.blockSignals(False)

    def evaluate(self, agent: Path | str) -> Worker | None:
        """The designer's Run suite: this panel in front, on `agent`, running. The suite:
        the shipped one of the same name (calculator.agent.yaml -> calculator), else the
        one chosen here."""
        self.set_agent(agent, select=True)
        name = Path(agent).name.removesuffix(".agent.yaml")
        mine = self.suite_path()
        if name in shipped() and (mine is None or _is_shipped_suite(mine)):
            self.set_suite(shipped()[name])
        dock = self.parentWidget()
        if dock is not None:
            dock.show()
            dock.raise_()
        self.tabs.setCurrentWidget(self.results)
        return self.run()

    # ------------------------------------------------------------------ run
    def run(self, request: SuiteRequest | None = None) -> Worker | None:
        if self.worker is not None:
            return None
        if request is None:
            suite = self.suite_path()
            if suite is None or not suite.is_file():
                return self._refuse(f"No suite file {suite}: choose one or Browse.")
            if self.editor.dirty and self.editor.path == suite and not self.editor.save():
                return self._refuse("The suite has unsaved edits that are not valid: see Suite.")
            suite = self.suite_path() or suite  # a shipped suite saves as the person's copy
            agent = self.agent_path()
            if agent is not None and not agent.is_file():
                return self._refuse(f"No agent file {agent}: open one in the designer or Browse.")
            request = SuiteRequest(
                suite,
                (agent,) if agent else (),
                tuple(self.model_names.text().split()),
                self.approve_all.isChecked(),
            )
        request = SuiteRequest(
            request.suite,
            request.agents,
            request.models,
            request.approve_all,
            frozenset(self.trusted),
        )
        self.request, self.last_status, self._running = request, "", None
        for agent in request.agents:
            self.ctx.recent_agents.add(agent)
        self.status.setText(f"Starting {request.suite.name}…")
        self.progress.begin(f"suite {request.suite.name}")
        worker = Worker(
            run_suite,
            request,
            self.models,
            name="suite run",
            batch_s=TOKEN_BATCH_S,
            batchable=_batchable,
        )
        worker.signals.batch.connect(self._on_items)
        worker.signals.returned.connect(self._on_returned)
        worker.signals.errored.connect(self._on_error)
        worker.signals.done.connect(self._on_done)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.ctx.pool.start(worker)
        return worker

    def _refuse(self, text: str) -> Worker | None:
        self.status.setText(text)
        report("warning", f"Evaluation: {text}")
        return None

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.abort()  # the suite's cancel token: finished task runs are kept
            self.status.setText("Cancelling: the running task is cut, finished ones are kept…")

    def _on_items(self, items: list[object]) -> None:
        for item in items:
            if isinstance(item, Progress):
                self.progress.update_progress(item)
            elif isinstance(item, ResultSet):  # the run's result set, before it starts
                inputs = _inputs(self.request)
                self.results.show_result(item, inputs)
            elif isinstance(item, SuiteStarted):
                done = f", {item.done} already done" if item.done else ""
                self.status.setText(f"{item.suite}: {item.total} task runs{done}")
            elif isinstance(item, TaskStarted):
                self._running = (item.variant, item.task, item.repeat)
                self.results.mark_running(item.variant, item.task, item.repeat)
                self.status.setText(f"[{item.index}/{item.total}] {item.task} ({item.variant})")
            elif isinstance(item, TaskEvent) and not isinstance(item.event, ev.TokenDelta):
                self.results.add_live_event(item.event.to_json())
            elif isinstance(item, TaskFinished):
                self._running = None
                self.results.add_record(item.record)
            elif isinstance(item, SuiteFinished):
                self._finished(item)

    def _finished(self, end: SuiteFinished) -> None:
        self.last_status = end.status
        if self._running is not None:
            self.results.clear_running(*self._running)
            self._running = None
        if self.results.result is not None:
            self.results.result.status = end.status
            self.results.refresh_charts()
        text = (
            "cancelled: the finished task runs are kept"
            if end.status == "cancelled"
            else f"{end.status}"
        )
        self.progress.end(text)
        self.status.setText(f"{text}; saved {end.path}")
        report("info", f"suite run {end.status}: {end.path}")

    def _on_returned(self, result: object) -> None:
        if isinstance(result, NeedsTrust):
            self.progress.end("waiting for your trust decision")
            self.ask_trust(result)

    def _on_error(self, exc: object) -> None:
        what = "Cannot run" if isinstance(exc, WorkbenchError) else "The suite run failed (a bug)"
        self.status.setText(f"{what}: {exc}")
        self.progress.end("failed")

    def _on_done(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)

    def ask_trust(self, needs: NeedsTrust) -> TrustDialog:
        """The run console's trust question, item by item; Trust and run starts again."""
        self.status.setText("The agent file reaches outside its folder: waiting for your decision…")
        dialog = TrustDialog(str(needs.request.agent_path), needs.items, self)
        request = self.request

        def decided(trust: bool) -> None:
            self.dialog = None
            if trust and request is not None:
                self.trusted.add(needs.key)
                self.run(request)
            else:
                self.status.setText(f"Not run: {needs.message}")
                report("warning", f"Suite not run (untrusted): {needs.message}")

        dialog.answered.connect(decided)
        self.dialog = dialog
        dialog.open()
        return dialog

    # ------------------------------------------------------------------ saved result sets
    def refresh_saved(self) -> Worker:
        worker = Worker(lambda state: results.list_results(), name="list result sets")
        worker.signals.returned.connect(self._show_saved)
        self.ctx.pool.start(worker)
        return worker

    def _show_saved(self, rows: list[dict[str, Any]]) -> None:
        self._saved_rows = rows
        self.saved.setRowCount(len(rows))
        choices: list[tuple[str, str]] = []
        for i, row in enumerate(rows):
            if "error" in row:
                cells = [row["file"], "", "", "unreadable", "", row["error"]]
            else:
                rates = ", ".join(
                    f"{v['pass_rate']:.0%}" if v["pass_rate"] is not None else "-"
                    for v in row["variants"]
                )
                cells = [row["file"], row["suite"], row["created"], row["status"], row["runs"],
                         rates]  # fmt: skip
                for k, v in enumerate(row["variants"]):
                    choices.append((f"{row['file']} · v{k}: {v['label']}", f"{row['path']}#v{k}"))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tooltip(text))
                self.saved.setItem(i, j, item)
        self.saved.resizeColumnsToContents()
        for box, pick in ((self.side_a, 1), (self.side_b, 0)):  # newest as B, the one before A
            keep = box.currentData()
            box.clear()
            for label, data in choices:
                box.addItem(label, data)
            index = box.findData(keep) if keep else -1
            box.setCurrentIndex(index if index >= 0 else min(pick, box.count() - 1))

    def open_saved(self, row: int) -> ResultSet | None:
        if not 0 <= row < len(self._saved_rows):
            return None
        return self.load_result(self._saved_rows[row]["path"])

    def load_result(self, path: str | Path | None = None) -> ResultSet | None:
        """Show a saved result set (a small JSON file: read here, in the GUI thread)."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Result set", str(results.evals_dir()), f"Result sets (*{results.SUFFIX})"
            )
            if not chosen:
                return None
            path = chosen
        try:
            result = results.load(path)
        except WorkbenchError as exc:
            self.status.setText(f"Cannot open: {exc}")
            report("warning", str(exc))
            return None
        self.results.show_result(result, _suite_inputs(result))
        self.tabs.setCurrentWidget(self.results)
        self.status.setText(f"{result.path}: {result.status}")
        return result

    def compare(self, a: str | None = None, b: str | None = None) -> dict[str, Any] | None:
        """Compare A and B ("PATH#vN": a result set's variant)."""
        a = a or self.side_a.currentData()
        b = b or self.side_b.currentData()
        if not a or not b:
            self.status.setText("Nothing to compare: run a suite or open the Saved tab first.")
            return None
        try:
            (ra, va), (rb, vb) = _side(a), _side(b)
            found = compare(ra, va, rb, vb)
        except WorkbenchError as exc:
            self.status.setText(f"Cannot compare: {exc}")
            return None
        self.comparison.show_comparison(found)
        return found

    # ------------------------------------------------------------------ the run console
    def _on_console_events(self, events: list[object]) -> None:
        """Remember the run console's last task and answer (Suite: add it as a task)."""
        for event in events:
            if isinstance(event, ev.RunStarted):
                self._console_task = event.task
                self.editor.set_run_task(event.task, None)
            elif isinstance(event, ev.FinalAnswer) and self._console_task:
                self.editor.set_run_task(self._console_task, event.text)


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:  # the box or the note takes the room, buttons keep their size
        layout.addWidget(widget, 1 if isinstance(widget, QComboBox | QLabel) else 0)
    return box


def _box(*widgets: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout()
    for widget in widgets:
        layout.addWidget(widget)
    layout.addStretch(1)
    return layout


def _is_shipped_suite(path: Path) -> bool:
    return path.resolve() in {p.resolve() for p in shipped().values()}


def _side(ref: str) -> tuple[ResultSet, Any]:
    path, _, key = ref.rpartition("#")
    result = results.load(path)
    return result, result.variant(key)


def _inputs(request: SuiteRequest | None) -> dict[str, str]:
    if request is None:
        return {}
    return _suite_inputs_of(request.suite)


def _suite_inputs(result: ResultSet) -> dict[str, str]:
    path = result.suite.get("path")
    return _suite_inputs_of(Path(path)) if path else {}


def _suite_inputs_of(path: Path) -> dict[str, str]:
    """Task id -> input of a suite file (empty when it no longer loads)."""
    from engine.eval.suitefile import load

    try:
        return {t.id: t.input for t in load(path).tasks}
    except (WorkbenchError, OSError):
        return {}
