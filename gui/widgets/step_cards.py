"""Step cards: one collapsible card per run event (live runs and transcripts alike).

Cards are built from an event's JSON form (`RunEvent.to_json()`, which is also what a
transcript line holds), so a live run and a run from history look the same. Token
deltas and event types this view does not know get no card.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.plain import printable
from gui.theme import Theme

#: Card kind -> theme colour of its left edge.
ACCENTS = {
    "start": "chart.axis",
    "plan": "chart.ram",
    "thought": "placeholder",
    "tool": "link",
    "result": "ok",
    "failed": "error",
    "memory": "chart.gpu_mem",
    "reflection": "chart.rss",
    "answer": "ok",
    "finish": "chart.axis",
    "error": "error",
}


class StepCard(QFrame):
    """A title line that toggles a body of selectable text."""

    def __init__(self, kind: str, title: str, body: str, theme: Theme, expanded: bool) -> None:
        super().__init__()
        self.kind = kind
        self.setObjectName("stepcard")
        accent = theme.color(ACCENTS.get(kind, "chart.axis"))
        self.setStyleSheet(
            f"QFrame#stepcard {{ border: 1px solid {theme.color('alternate_base')}; "
            f"border-left: 3px solid {accent}; border-radius: 2px; }}"
            " QToolButton { border: none; font-weight: bold; }"
        )
        self.header = QToolButton()
        self.header.setText(printable(title).replace("&", "&&"))  # `&` is not a shortcut
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setAutoRaise(True)
        self.header.toggled.connect(self.set_expanded)
        self.body = QLabel(printable(body))  # tool output, model text: shown, not obeyed
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setContentsMargins(18, 0, 4, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        self.header.setChecked(expanded)
        self.set_expanded(expanded)

    @property
    def title(self) -> str:
        return self.header.text()

    @property
    def expanded(self) -> bool:
        return self.header.isChecked()

    def set_expanded(self, on: bool) -> None:
        self.header.setChecked(on)
        arrow = Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow
        self.header.setArrowType(arrow)
        self.body.setVisible(on and bool(self.body.text()))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def describe(event: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(kind, title, body, expanded) of the cards one event becomes (none for most tokens)."""
    kind, step = event.get("type"), event.get("step", 0)
    at = f"Step {step} · " if step else ""
    cards: list[tuple[str, str, str, bool]] = []
    if event.get("thought"):
        cards.append(("thought", f"{at}Thought", str(event["thought"]), True))
    if kind == "RunStarted":
        tools = ", ".join(event.get("tools") or ()) or "no tools"
        body = f"task: {event.get('task')}\nmodel: {event.get('model')}\ntools: {tools}"
        body += f"\ntranscript: {event.get('transcript')}"
        cards.append(
            ("start", f"Run of {event.get('agent')} ({event.get('strategy')})", body, False)
        )
    elif kind == "PlanStep":
        plan = event.get("plan") or []
        index, status = int(event.get("index", -1)), event.get("status")
        if status == "planned":
            edited = " (edited)" if event.get("edited") else ""
            lines = "\n".join(f"{i}. {s}" for i, s in enumerate(plan, 1))
            cards.append(("plan", f"Plan{edited}: {len(plan)} steps", lines, True))
        elif status == "done" and 0 <= index < len(plan):
            title = f"{at}Plan step {index + 1} done"
            cards.append(("plan", title, f"{plan[index]}\nresult: {event.get('result')}", False))
        elif 0 <= index < len(plan):
            cards.append(("plan", f"{at}Plan step {index + 1} started", str(plan[index]), False))
    elif kind == "MemoryHit":
        title = f"Memory hit · score {float(event.get('score', 0.0)):.3f}"
        source = f"\n(source: {event['source']})" if event.get("source") else ""
        cards.append(("memory", title, f"{event.get('text')}{source}", True))
    elif kind == "ToolCall":
        if event.get("valid", True):
            body = _json(event.get("arguments"))
            cards.append(("tool", f"{at}Tool call: {event.get('tool')}", body, True))
        else:
            body = "\n".join(event.get("problems") or ()) + f"\n\n{event.get('text', '')}".rstrip()
            cards.append(("failed", f"{at}Invalid step: {event.get('tool') or '?'}", body, True))
    elif kind == "ToolResult":
        ok = bool(event.get("ok"))
        state = (
            f"ok, {float(event.get('duration_s', 0.0)):.3f} s" if ok else event.get("error_kind")
        )
        title = f"{at}Tool result: {event.get('tool') or '?'} ({state})"
        cards.append(("result" if ok else "failed", title, str(event.get("output", "")), True))
    elif kind == "Reflection":
        body = f"{event.get('critique')}\nlesson: {event.get('lesson') or '-'}"
        cards.append(("reflection", f"Reflection · verdict {event.get('verdict')}", body, True))
    elif kind == "FinalAnswer":
        forced = " (forced by the step budget)" if event.get("forced") else ""
        cards.append(("answer", f"{at}Final answer{forced}", str(event.get("text")), True))
    elif kind == "RunFinished":
        m = event.get("metrics") or {}
        body = _json(m)
        title = f"Finished: {event.get('stop_reason')} · {m.get('steps', 0)} steps, "
        title += f"{m.get('generated_tokens', 0)} tokens, {float(m.get('wall_s') or 0):.1f} s"
        cards.append(("finish", title, body, False))
    elif kind == "RunError":
        cards.append(("error", f"Error ({event.get('kind')})", str(event.get("message")), True))
    elif kind == "Failure":  # not an engine event: the console's own error card
        cards.append(("error", str(event.get("title")), str(event.get("message")), True))
    return cards


class StepCardList(QScrollArea):
    """A scrolling column of step cards."""

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.cards: list[StepCard] = []
        self.setWidgetResizable(True)
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(2, 2, 2, 2)
        self.column.setSpacing(4)
        self.column.addStretch(1)
        self.setWidget(inner)

    def add_event(self, event: dict[str, Any]) -> list[StepCard]:
        added = []
        for kind, title, body, expanded in describe(event):
            card = StepCard(kind, title, body, self.theme, expanded)
            self.column.insertWidget(self.column.count() - 1, card)
            self.cards.append(card)
            added.append(card)
        if added:
            QTimer.singleShot(0, self._scroll_to_end)
        return added

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def clear(self) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards.clear()

    def set_expanded(self, on: bool) -> None:
        for card in self.cards:
            card.set_expanded(on)
