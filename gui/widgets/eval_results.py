"""`EvalResultsView`: one result set (engine.eval.results.ResultSet) as a task x run table,
pass-rate and latency charts per configuration (variant), and the clicked run's transcript
as step cards.

Each cell is one task run: green for a pass, red for a fail, its checks with their
reasons on hover; clicking it shows the run's transcript (runs/…jsonl) as the run
console's step cards. A live suite run fills the table cell by cell (`mark_running`,
`add_record`) and shows the running task's events as cards (`add_live_event`).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.agent.transcript import read_transcript
from engine.errors import WorkbenchError
from engine.eval.results import ResultSet
from gui.theme import Theme
from gui.widgets.bars import BarChart
from gui.widgets.step_cards import StepCardList

RECORD = Qt.ItemDataRole.UserRole
#: opacity of a cell's pass / fail colour over the table's base (the text stays readable)
CELL_ALPHA = 150
#: an answer longer than this is cut in the tooltip (the step cards show all of it)
ANSWER_CHARS = 400


def cell_tooltip(record: dict[str, Any], task_input: str = "") -> str:
    """Why a task run passed or failed: each check with its reason, then the answer."""
    lines = [f"task: {task_input}"] if task_input else []
    verdict = "passed" if record["passed"] else "FAILED"
    lines.append(f"{record['task']} #{record['repeat'] + 1}: {verdict} ({record['stop_reason']})")
    for check in record.get("checks", []):
        mark = {True: "pass", False: "FAIL", None: "not applied"}[check["passed"]]
        lines.append(f"  {mark}  {check['check']}: {check['reason']}")
    if not record.get("checks"):
        lines.append("  (no checks: passes with a final answer)")
    answer = record.get("answer")
    if answer is not None and len(answer) > ANSWER_CHARS:
        answer = answer[:ANSWER_CHARS] + "…"
    lines.append(f"answer: {answer if answer is not None else '(none)'}")
    return "\n".join(lines)


def plain_tooltip(text: str) -> str:
    """A tooltip that shows `text` as it is: Qt renders a tooltip that looks like HTML as
    HTML, and answers and reasons are the model's text."""
    return f'<p style="white-space:pre-wrap">{html.escape(text)}</p>'


def _seconds(ms: float | None) -> str:
    return f"{ms / 1000:.1f} s" if ms is not None else "-"


class EvalResultsView(QWidget):
    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.result: ResultSet | None = None
        self.inputs: dict[str, str] = {}  # task id -> its input (when the suite is known)
        self.columns: list[tuple[str, int]] = []  # (variant key, repeat) per column
        self.rows: list[str] = []  # task ids
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.cellClicked.connect(self.open_cell)
        self.pass_chart = BarChart(theme, series="gpu")
        self.latency_chart = BarChart(theme, series="cpu")
        for chart in (self.pass_chart, self.latency_chart):
            chart.setMinimumHeight(120)
        self.legend = QLabel("")
        self.legend.setObjectName("caption")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.PlainText)
        self.legend.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cards = StepCardList(theme)
        self.cards_title = QLabel("Click a cell to see its run as step cards.")
        self.cards_title.setObjectName("caption")
        self.cards_title.setWordWrap(True)
        self.cards_title.setTextFormat(Qt.TextFormat.PlainText)
        charts = QHBoxLayout()
        charts.setContentsMargins(0, 0, 0, 0)
        charts.addWidget(self.pass_chart)
        charts.addWidget(self.latency_chart)
        chart_box = QWidget()
        chart_column = QVBoxLayout(chart_box)
        chart_column.setContentsMargins(0, 0, 0, 0)
        chart_column.addLayout(charts, 1)
        chart_column.addWidget(self.legend)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.table)
        left.addWidget(chart_box)
        left.setChildrenCollapsible(False)
        left.setSizes([300, 220])
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(0, 0, 0, 0)
        right_column.addWidget(self.cards_title)
        right_column.addWidget(self.cards, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        split.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    # ------------------------------------------------------------------ the table
    def show_result(self, result: ResultSet, inputs: dict[str, str] | None = None) -> None:
        """Lay out the table for the result set's tasks and runs and fill what it holds."""
        self.result = result
        self.inputs = dict(inputs or {})
        self.rows = list(result.suite["tasks"])
        many = result.repeat > 1
        self.columns = [(v.key, r) for v in result.variants for r in range(result.repeat)]
        self.table.clear()
        self.table.setRowCount(len(self.rows))
        self.table.setColumnCount(len(self.columns))
        self.table.setVerticalHeaderLabels(self.rows)
        labels = {v.key: v.label for v in result.variants}
        for j, (key, repeat) in enumerate(self.columns):
            header = QTableWidgetItem(f"{key} #{repeat + 1}" if many else key)
            header.setToolTip(plain_tooltip(labels[key] + (f", run {repeat + 1}" if many else "")))
            self.table.setHorizontalHeaderItem(j, header)
        for i, task in enumerate(self.rows):
            header = self.table.verticalHeaderItem(i)
            if header is not None and task in self.inputs:
                header.setToolTip(plain_tooltip(self.inputs[task]))
        for record in result.runs:
            self._fill(record)
        self.table.resizeColumnsToContents()
        self.cards.clear()
        self.cards_title.setText("Click a cell to see its run as step cards.")
        self.refresh_charts()

    def _cell(self, variant: str, task: str, repeat: int) -> tuple[int, int] | None:
        if task not in self.rows or (variant, repeat) not in self.columns:
            return None
        return self.rows.index(task), self.columns.index((variant, repeat))

    def _fill(self, record: dict[str, Any]) -> QTableWidgetItem | None:
        where = self._cell(record["variant"], record["task"], record["repeat"])
        if where is None:
            return None
        passed = bool(record["passed"])
        item = QTableWidgetItem(f"{'pass' if passed else 'FAIL'}  {_seconds(record['latency_ms'])}")
        color = QColor(self.theme.color("ok" if passed else "error"))
        color.setAlpha(CELL_ALPHA)
        item.setBackground(color)
        item.setToolTip(plain_tooltip(cell_tooltip(record, self.inputs.get(record["task"], ""))))
        item.setData(RECORD, record)
        self.table.setItem(*where, item)
        return item

    def mark_running(self, variant: str, task: str, repeat: int) -> None:
        where = self._cell(variant, task, repeat)
        if where is not None:
            item = QTableWidgetItem("running…")
            item.setToolTip(plain_tooltip(f"{task}: running"))
            self.table.setItem(*where, item)
            self.table.scrollToItem(item)
        self.cards.clear()
        self.cards_title.setText(f"{task} #{repeat + 1} ({variant}): running")

    def clear_running(self, variant: str, task: str, repeat: int) -> None:
        """A cancelled task run is not recorded: its cell goes back to empty."""
        where = self._cell(variant, task, repeat)
        item = self.table.item(*where) if where is not None else None
        if where is not None and item is not None and item.data(RECORD) is None:
            self.table.takeItem(*where)

    def add_record(self, record: dict[str, Any]) -> None:
        if self.result is not None:
            self.result.runs.append(record)
        self._fill(record)
        self.refresh_charts()

    def add_live_event(self, event: dict[str, Any]) -> None:
        self.cards.add_event(event)

    def item(self, task: str, variant: str = "v0", repeat: int = 0) -> QTableWidgetItem | None:
        where = self._cell(variant, task, repeat)
        return None if where is None else self.table.item(*where)

    # ------------------------------------------------------------------ a run's cards
    def open_cell(self, row: int, column: int) -> None:
        item = self.table.item(row, column)
        record = item.data(RECORD) if item is not None else None
        if not isinstance(record, dict):
            return
        self.cards.clear()
        verdict = "passed" if record["passed"] else "failed"
        self.cards_title.setText(
            f"{record['task']} #{record['repeat'] + 1} ({record['variant']}): {verdict}"
        )
        path = record.get("transcript")
        try:
            if not path:
                raise WorkbenchError("this task run has no transcript")
            _header, events = read_transcript(path)
        except WorkbenchError as exc:
            self.cards.add_event(
                {"type": "Failure", "title": "Cannot read the transcript", "message": str(exc)}
            )
            return
        for event in events:
            self.cards.add_event(event)

    # ------------------------------------------------------------------ charts
    def refresh_charts(self) -> None:
        result = self.result
        if result is None:
            return
        keys, rates, latencies, legend = [], [], [], []
        for v in result.variants:
            runs = result.runs_of(v)
            s = result.summary(v)
            keys.append(v.key)
            rate = (s["pass_rate"] or 0.0) * 100
            ci = s["pass_rate_ci95"]
            rates.append((rate, ci[0] * 100, ci[1] * 100) if ci else (rate, rate, rate))
            times = [r["latency_ms"] / 1000 for r in runs if r["latency_ms"] is not None]
            median = (s["median_latency_ms"] or 0.0) / 1000
            latencies.append((median, min(times, default=0.0), max(times, default=0.0)))
            shown = f"{s['pass_rate']:.0%}" if s["pass_rate"] is not None else "-"
            legend.append(
                f"{v.key}: {v.label} — {s['passed']}/{s['runs']} passed ({shown}), "
                f"median {_seconds(s['median_latency_ms'])}"
            )
        many = result.repeat > 1
        self.pass_chart.set_bars("pass rate %" + (" (95% CI)" if many else ""), keys, rates)
        self.latency_chart.set_bars("latency s: median, min-max", keys, latencies)
        self.pass_chart.setYRange(0, 105, padding=0)
        status = f"{result.suite['name']} · {result.status} · {len(result.runs)}/"
        status += f"{result.total_runs} task runs"
        self.legend.setText("\n".join([status, *legend]))

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.pass_chart.apply_theme(theme)
        self.latency_chart.apply_theme(theme)
        if self.result is not None:
            self.show_result(self.result, self.inputs)
