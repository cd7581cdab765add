"""`QtRunConsole`: run an agent file on a task and watch it work, step by step.

The agent comes from the designer (`ctx.agents.opened`), the recent files or Browse. Run
starts `gui.agent_job.run_agent` in a worker: the generated text streams into the text
box through a `TextBatcher`, every other event becomes a step card, every run event is
re-emitted on `ctx.agents.run_events` and every raw generation event on `ctx.generation`
(the profiler keeps charting tokens/s). Approvals and plan edits are dialogs answered in
the GUI thread while the worker waits; History lists the transcripts in runs/.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine import paths
from engine.agent import events as ev
from engine.errors import WorkbenchError
from engine.llm.events import GenerationFinished
from engine.llm.events import TokenDelta as LLMTokenDelta
from engine.progress import Progress
from gui.agent_job import (
    Approval,
    HookGate,
    NeedsTrust,
    Pending,
    RunRequest,
    run_agent,
    session_models,
)
from gui.bridge import Worker
from gui.bridge.messages import report
from gui.context import AppContext
from gui.panels.registry import register_panel
from gui.widgets.run_dialogs import ApprovalDialog, PlanEditDialog, TrustDialog
from gui.widgets.run_history_view import QtRunHistory
from gui.widgets.step_cards import StepCardList
from gui.widgets.text_batcher import TextBatcher

#: Token events cross from the worker in batches of this many seconds (gui.bridge.worker);
#: every other run event crosses at once.
TOKEN_BATCH_S = 0.05


def _is_token(item: object) -> bool:
    return isinstance(item, ev.TokenDelta | LLMTokenDelta)


@register_panel("run", "Run console", area="right", order=25, shortcut="Ctrl+6")
class QtRunConsole(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.models = session_models(ctx.sessions)  # tests plug a scripted model in here
        self.gate = HookGate(self)
        self.gate.asked.connect(self._on_ask)
        self.worker: Worker | None = None
        self.dialog: QDialog | None = None
        self.request: RunRequest | None = None
        self.trusted: set[str] = set()
        self.stop_reason = ""
        self._step = (-1, "")
        self.agent = QComboBox()
        self.agent.setMinimumContentsLength(30)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        self.task = QPlainTextEdit()
        self.task.setPlaceholderText("Task for the agent (Ctrl+Shift+Return runs)")
        self.task.setMaximumHeight(70)
        self.run_button = QPushButton("Run agent")
        self.run_button.setObjectName("primary")
        self.run_button.setShortcut("Ctrl+Shift+Return")
        self.run_button.clicked.connect(lambda: self.run())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("Choose an agent file and type a task.")
        self.status.setObjectName("caption")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it quotes errors and tool names
        self.status.setWordWrap(True)
        self.output = QPlainTextEdit(readOnly=True)
        self.output.setPlaceholderText("The model's text streams in here.")
        self.batcher = TextBatcher(self.output)
        self.cards = StepCardList(ctx.theme)
        self.history_view = QtRunHistory(ctx.theme)
        self.history, self.history_cards = self.history_view.runs, self.history_view.cards
        self.tabs = QTabWidget()
        self.tabs.addTab(_split(Qt.Orientation.Vertical, self.output, self.cards, 1, 3), "Run")
        self.tabs.addTab(self.history_view, "History")
        self.tabs.currentChanged.connect(self._on_tab)
        top = QHBoxLayout()
        top.addWidget(QLabel("Agent"))
        top.addWidget(self.agent, 1)
        top.addWidget(browse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.task)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        for path in reversed(ctx.recent_agents.items()):
            self.set_agent(path)
        ctx.agents.opened.connect(self.set_agent)

    def _on_tab(self, index: int) -> None:
        if index == 1:
            self.history_view.refresh()

    # ------------------------------------------------------------------ agent file
    def set_agent(self, path: Path | str) -> None:
        text = str(Path(path).expanduser().resolve())
        index = self.agent.findText(text)
        if index < 0:
            self.agent.insertItem(0, text)
            index = 0
        self.agent.setCurrentIndex(index)

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Agent file", str(paths.agents_dir()), "Agent files (*.agent.yaml *.yaml)"
        )
        if path:
            self.set_agent(path)

    # ------------------------------------------------------------------ run
    def run(self, request: RunRequest | None = None) -> Worker | None:
        if self.worker is not None:
            return None
        if request is None:
            text, task = self.agent.currentText().strip(), self.task.toPlainText().strip()
            if not text or not Path(text).is_file():
                return self._refuse(f"No agent file {text!r}: open one in the designer or Browse.")
            if not task:
                return self._refuse("Type a task first.")
            request = RunRequest(Path(text), task)
        request = RunRequest(request.agent_path, request.task, frozenset(self.trusted))
        self.ctx.recent_agents.add(request.agent_path)
        self.request, self.stop_reason, self._step = request, "", (-1, "")
        self.output.clear()
        self.cards.clear()
        self.status.setText(f"Starting {request.agent_path.name}…")
        worker = Worker(
            run_agent,
            request,
            self.gate,
            self.models,
            name="agent run",
            batch_s=TOKEN_BATCH_S,
            batchable=_is_token,
        )
        worker.signals.batch.connect(self._on_items)
        worker.signals.returned.connect(self._on_returned)
        worker.signals.errored.connect(self._on_error)
        worker.signals.done.connect(self._on_done)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.ctx.generation.publish_started()
        self.ctx.pool.start(worker)
        return worker

    def _refuse(self, text: str) -> Worker | None:
        self.status.setText(text)
        report("warning", f"Run console: {text}")
        return None

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.abort()  # the run's cancel token: it ends with stop reason "cancelled"
            self.status.setText("Stopping…")
            self._close_dialog()

    def _on_items(self, items: list[object]) -> None:
        """One batch from the worker: tokens stream into the text box, other run events
        become cards; run events and raw generation events are re-published as lists."""
        raw: list[object] = []
        run: list[ev.RunEvent] = []
        for item in items:
            if isinstance(item, LLMTokenDelta | GenerationFinished):
                raw.append(item)
                continue
            if isinstance(item, Progress):  # memory documents ingested before the run
                self.status.setText(_progress_text(item))
                continue
            if not isinstance(item, ev.RunEvent):
                continue
            run.append(item)
            if isinstance(item, ev.TokenDelta):
                if (item.step, item.phase) != self._step:
                    if self._step[0] >= 0:
                        self.batcher.append("\n")
                    self._step = (item.step, item.phase)
                self.batcher.append(item.text)
            else:
                self.cards.add_event(item.to_json())
                self._show_progress(item)
        self.batcher.flush()
        self.ctx.generation.publish(raw)
        if run:
            self.ctx.agents.run_events.emit(run)

    def _show_progress(self, event: ev.RunEvent) -> None:
        if isinstance(event, ev.RunStarted):
            self.status.setText(f"Running {event.agent} on {event.model}…")
        elif isinstance(event, ev.RunError):
            self.status.setText(f"Run error: {event.message}")
            report("error", f"Agent run failed: {event.message}")
        elif isinstance(event, ev.RunFinished):
            self.stop_reason = event.stop_reason
            m = event.metrics
            rate = m.to_dict()["mean_decode_tok_s"]
            self.status.setText(
                f"{event.stop_reason}: {m.steps} steps, {m.tool_calls} tool calls, "
                f"{m.generated_tokens} tokens, {m.wall_s:.1f} s"
                + (f", {rate:.1f} tok/s" if rate else "")
            )

    def _on_returned(self, result: object) -> None:
        if isinstance(result, NeedsTrust):
            self.ask_trust(result)

    def _on_error(self, exc: object) -> None:
        what = "Cannot run" if isinstance(exc, WorkbenchError) else "The run failed (a bug)"
        self.status.setText(f"{what}: {exc}")
        self.cards.add_event({"type": "Failure", "title": what, "message": str(exc)})

    def _on_done(self) -> None:
        self.batcher.flush()
        self.worker = None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if not isinstance(self.dialog, TrustDialog):  # a trust question outlives its worker
            self._close_dialog()
        if self.tabs.currentIndex() == 1:
            self.history_view.refresh()

    # ------------------------------------------------------------------ questions
    def _on_ask(self, pending: Pending) -> None:
        if self.worker is None or pending.answered:
            return
        dialog: QDialog
        if pending.kind == "approve" and isinstance(pending.payload, Approval):
            dialog = ApprovalDialog(pending.payload, self)
            self.status.setText(f"Waiting for your approval of {pending.payload.tool}…")
        else:
            dialog = PlanEditDialog(list(pending.payload), self)  # type: ignore[call-overload]
            self.status.setText("Waiting for you to check the plan…")
        dialog.answered.connect(pending.answer)
        dialog.answered.connect(self._answered)
        self.dialog = dialog
        dialog.open()

    def _answered(self, value: object) -> None:
        self.dialog = None
        if self.worker is not None:
            self.status.setText("Running…")

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            dialog, self.dialog = self.dialog, None
            dialog.blockSignals(True)  # the worker's own wait ends through the cancel token
            dialog.close()

    def ask_trust(self, needs: NeedsTrust) -> TrustDialog:
        self.status.setText("The agent file reaches outside its folder: waiting for your decision…")
        dialog = TrustDialog(str(needs.request.agent_path), needs.items, self)

        def decided(trust: bool) -> None:
            self.dialog = None
            if trust:
                self.trusted.add(needs.key)
                self.run(needs.request)
            else:
                self.status.setText(f"Not run: {needs.message}")
                report("warning", f"Not run (untrusted): {needs.message}")

        dialog.answered.connect(decided)
        self.dialog = dialog
        dialog.open()
        return dialog


def _split(
    orientation: Qt.Orientation, first: QWidget, second: QWidget, a: int, b: int
) -> QSplitter:
    splitter = QSplitter(orientation)
    splitter.addWidget(first)
    splitter.addWidget(second)
    splitter.setStretchFactor(0, a)
    splitter.setStretchFactor(1, b)
    splitter.setSizes([100 * a, 100 * b])  # scaled to the space it gets
    return splitter


def _progress_text(p: Progress) -> str:
    frac = p.fraction
    share = f" {frac * 100:.0f}%" if frac is not None else ""
    return f"Preparing the run: {p.stage}{share} {p.message}".rstrip()
