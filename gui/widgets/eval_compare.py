"""`EvalCompareView`: two result sets' runs side by side (engine.eval.compare.compare):
per task A's and B's verdict and what flipped (fixed in green, broken in red), and the
deltas (B - A) of pass rate, latency, tokens and tool-call rates."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from gui.theme import Theme
from gui.widgets.eval_results import CELL_ALPHA, plain_tooltip

COLUMNS = ("task", "A", "B", "change", "latency Δ s", "B's failed checks")
DELTA_TEXT = {
    "pass_rate": ("pass rate", lambda v: f"{v * 100:+.0f} pts"),
    "median_latency_ms": ("median latency", lambda v: f"{v / 1000:+.2f} s"),
    "median_tokens": ("median tokens", lambda v: f"{v:+.0f}"),
    "median_ttft_ms": ("median TTFT", lambda v: f"{v:+.0f} ms"),
    "valid_tool_call_rate": ("valid tool calls", lambda v: f"{v * 100:+.0f} pts"),
    "accepted_tool_call_rate": ("accepted tool calls", lambda v: f"{v * 100:+.0f} pts"),
}


def _verdict(passed: bool, rate: float) -> str:
    text = "pass" if passed else "FAIL"
    return text if rate in (0.0, 1.0) else f"{text} ({rate:.0%} of runs)"


class EvalCompareView(QWidget):
    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.comparison: dict[str, Any] | None = None
        self.heading = QLabel("Choose two result sets (A: before, B: after) and compare.")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)

    def show_comparison(self, c: dict[str, Any]) -> None:
        self.comparison = c
        deltas = [
            f"{label} {fmt(c['deltas'][key])}"
            for key, (label, fmt) in DELTA_TEXT.items()
            if c["deltas"].get(key) is not None
        ]
        fixed, broken = c["flipped"]["fixed"], c["flipped"]["broken"]
        lines = [
            f"A: {c['a']['label']} ({c['a']['file']})",
            f"B: {c['b']['label']} ({c['b']['file']})",
            f"B - A: {', '.join(deltas) or 'no numbers'}",
            f"fixed: {', '.join(fixed) or 'none'}; broken: {', '.join(broken) or 'none'}",
        ]
        if not c["same_suite"]:
            lines.append("note: the two runs are of different versions of the suite file")
        if c["only_a"] or c["only_b"]:
            lines.append(
                f"only in A: {', '.join(c['only_a']) or '-'}; only in B: "
                f"{', '.join(c['only_b']) or '-'}"
            )
        self.heading.setText("\n".join(lines))
        rows = c["tasks"]
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            latency = row["latency_delta_ms"]
            cells = [
                row["task"],
                _verdict(row["a_passed"], row["a_pass_rate"]),
                _verdict(row["b_passed"], row["b_pass_rate"]),
                row["flip"] or "",
                f"{latency / 1000:+.2f}" if latency is not None else "-",
                ", ".join(row["b_failed_checks"]),
            ]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tooltip(text))
                self.table.setItem(i, j, item)
            for j, passed in ((1, row["a_passed"]), (2, row["b_passed"])):
                self._tint(self.table.item(i, j), "ok" if passed else "error")
            if row["flip"]:
                self._tint(self.table.item(i, 3), "ok" if row["flip"] == "fixed" else "error")
        self.table.resizeColumnsToContents()

    def _tint(self, item: QTableWidgetItem | None, key: str) -> None:
        if item is not None:
            color = QColor(self.theme.color(key))
            color.setAlpha(CELL_ALPHA)
            item.setBackground(color)

    def row_of(self, task: str) -> int:
        for i in range(self.table.rowCount()):
            item = self.table.item(i, 0)
            if item is not None and item.text() == task:
                return i
        return -1

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        if self.comparison is not None:
            self.show_comparison(self.comparison)
