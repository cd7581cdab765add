"""`CompareView`: the engine's session comparison (`engine.telemetry.compare.compare`) as a
table of metric medians with B/A ratios, the quality signals, and paired matrix rows."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.telemetry.compare import clip, describe_side, format_value

BETTER = QColor("#43a047")
WORSE = QColor("#e53935")


class CompareView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel("")
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(
            ["metric (median over runs)", "A", "B", "B/A", "better"]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.quality = QLabel("")
        self.quality.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.quality)

    def set_result(self, result: dict[str, Any]) -> None:
        self.heading.setText(
            "\n".join(describe_side(tag, result[k]) for tag, k in (("A", "a"), ("B", "b")))
        )
        rows = result["metrics"]
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            ratio = f"x{row['ratio']:.2f}" if row["ratio"] is not None else "-"
            cells = [
                row["label"],
                format_value(row["a"]),
                format_value(row["b"]),
                ratio,
                (row["better"] or "").upper(),
            ]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 3 and row["better"]:
                    item.setForeground(BETTER if row["better"] == "b" else WORSE)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        q = result["quality"]
        lines = [
            f"Final answers identical in {q['same_answers']} of {q['paired_runs']} paired runs; "
            f"valid tool calls A {q['tool_calls_valid_a'][0]}/{q['tool_calls_valid_a'][1]}, "
            f"B {q['tool_calls_valid_b'][0]}/{q['tool_calls_valid_b'][1]}."
        ]
        for run in q["runs"]:
            if not run["same_answer"]:
                lines.append(
                    f"run {run['run']}: A {clip(run['answer_a'], 80)!r} "
                    f"vs B {clip(run['answer_b'], 80)!r}"
                )
        for m in result.get("matrix", []):
            ratios = ", ".join(
                f"{label} x{m[key]['ratio']:.2f}"
                for key, label in (
                    ("ttft_ms", "TTFT"),
                    ("prefill_tok_s", "prefill"),
                    ("decode_tok_s", "decode"),
                )
                if m[key]["ratio"] is not None
            )
            lines.append(
                f"matrix {m['model']} [{m['quantization']}] t{m['threads']} "
                f"{m['provider_a']} -> {m['provider_b']}: {ratios}"
            )
        self.quality.setText("\n".join(lines))


class CompareDialog(QDialog):
    def __init__(self, result: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare profiling sessions")
        self.view = CompareView(self)
        self.view.set_result(result)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(720, 480)
