"""`QtPromptPreview`: the assembled system prompt of the agent being edited, live, with a bar
of the tokens each section takes of the model's context window.

The designer calls `show_spec` on every valid edit; a 150 ms single-shot timer coalesces
typing, and the preview (engine.agent.prompt.preview + launch.preview_tools, tokenizing
with the selected prepared model's tokenizer when it exists) runs in a worker. A result
older than the newest request is dropped.
"""

from __future__ import annotations

import functools
import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFontDatabase, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from engine.agent.prompt import PromptPreview
from engine.agent.spec import AgentSpec
from gui.bridge import Worker
from gui.context import AppContext

if TYPE_CHECKING:
    from engine.llm.chat import ChatFormat

DEBOUNCE_MS = 150
COLORS = {
    "goals": "#4fa3ff",
    "tools": "#ff9f43",
    "planning": "#b48cff",
    "memory": "#2ec4b6",
    "persona": "#ff5fa2",
    "examples": "#f0e14a",
    "chat format": "#9aa0a6",
}


@dataclass(frozen=True)
class PreviewResult:
    preview: PromptPreview
    tokenizer: str  # "<model> tokenizer" or "estimate"
    seconds: float


@functools.lru_cache(maxsize=4)
def _tokenizer(folder: str) -> tuple[object, int] | None:
    """(tokenizers.Tokenizer, context length) of a prepared model folder, if it has one."""
    from tokenizers import Tokenizer

    from engine.manifest import Manifest

    path = Path(folder)
    if not (path / "tokenizer.json").is_file() or not (path / "model.json").is_file():
        return None
    return Tokenizer.from_file(str(path / "tokenizer.json")), Manifest.read(path).context_length


def _chat_format(folder: Path) -> tuple[ChatFormat | None, str]:
    """(the folder's ChatFormat or None, a note for the legend when its template fails)."""
    from engine.errors import WorkbenchError
    from engine.llm.chat import ChatFormat

    try:
        chat = ChatFormat.load(folder)
        chat.count_tokens([{"role": "user", "content": ""}])  # the template runs here
    except WorkbenchError as exc:
        return None, f" (its chat template failed: {exc})"
    return chat, ""


def compute(spec: AgentSpec, workspace: Path | None) -> PreviewResult:
    """The preview, counted with the model's tokenizer when it is prepared here."""
    from engine.agent.launch import preview_tools
    from engine.agent.prompt import preview
    from engine.manifest import model_folder

    start = time.perf_counter()
    found = _tokenizer(str(model_folder(spec.model.name)))
    tools = preview_tools(spec, workspace)
    if found is None:
        result = preview(spec, tools)
        label = "estimate (about 4 characters a token: no prepared model of that name)"
    else:
        tokenizer, context = found

        def count(text: str) -> int:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)  # type: ignore[attr-defined]

        chat, note = _chat_format(model_folder(spec.model.name))
        count_prompt = chat.count_tokens if chat is not None else None
        result = preview(
            spec, tools, count_tokens=count, context_length=context, count_prompt=count_prompt
        )
        label = f"{spec.model.name} tokenizer" + (" and chat format" if chat else note)
    return PreviewResult(result, label, time.perf_counter() - start)


class QtTokenBar(QWidget):
    """One coloured segment per section, scaled to the context window (or the total)."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(22)
        self.parts: list[tuple[str, int]] = []
        self.capacity = 0

    def set_parts(self, parts: list[tuple[str, int]], capacity: int | None) -> None:
        self.parts = [(n, t) for n, t in parts if t > 0]
        total = sum(t for _, t in self.parts)
        self.capacity = max(capacity or total, total, 1)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0, 2, -1, -2)
        painter.fillRect(rect, self.palette().base())
        x = rect.left()
        for name, tokens in self.parts:
            width = rect.width() * tokens / self.capacity
            painter.fillRect(QRectF(x, rect.top(), width, rect.height()), QColor(COLORS[name]))
            x += width
        painter.setPen(self.palette().mid().color())
        painter.drawRect(rect)


class QtPromptPreview(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.result: PreviewResult | None = None
        self._pending: tuple[AgentSpec, Path | None] | None = None
        self._serial = 0
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self._start)
        self.bar = QtTokenBar()
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.enforced = QLabel()
        self.enforced.setWordWrap(True)
        self.enforced.setTextFormat(Qt.TextFormat.RichText)
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Prompt preview</b>"))
        layout.addWidget(self.bar)
        layout.addWidget(self.legend)
        layout.addWidget(self.enforced)
        layout.addWidget(self.text, 1)

    def show_spec(self, spec: AgentSpec, workspace: Path | None = None) -> None:
        self._pending = (spec, workspace)
        self.timer.start()

    def _start(self) -> None:
        if self._pending is None:
            return
        self._serial += 1
        if self.result is None:
            self.legend.setText("counting… (the first count loads the model's tokenizer)")
        job = (self._serial, *self._pending)
        worker = Worker(lambda _state: (job[0], compute(job[1], job[2])), name="prompt preview")
        worker.signals.returned.connect(self._returned)  # a bound slot: gone with the widget
        self.ctx.pool.start(worker)

    def _returned(self, answer: tuple[int, PreviewResult]) -> None:
        serial, result = answer
        if serial != self._serial:
            return  # a newer edit is on its way
        self.result = result
        p = result.preview
        parts = [(s.name, s.tokens) for s in p.sections] + [
            ("examples", p.examples_tokens),
            ("chat format", p.format_tokens),
        ]
        self.bar.set_parts(parts, p.context_length)
        window = f"{p.context_length:,}" if p.context_length else "unknown"
        share = f" = {p.fraction:.1%}" if p.fraction is not None else ""
        items = " ".join(
            f'<span style="color:{COLORS[n]}">■</span> {n} {t:,}' for n, t in parts if t
        )
        self.legend.setText(
            f"{items}<br>total <b>{p.total_tokens:,}</b> tokens of context {window}{share}"
            f" · counted with: {result.tokenizer} · {result.seconds * 1000:.0f} ms"
        )
        rules = "".join(f"<li>{html.escape(line)}</li>" for line in p.enforced)
        self.enforced.setText(
            f"<b>The step grammar enforces</b> (no prompt tokens):<ul>{rules}</ul>" if rules else ""
        )
        self.enforced.setVisible(bool(rules))
        if self.text.toPlainText() != p.text:
            self.text.setPlainText(p.text)

    def section_tokens(self) -> dict[str, int]:
        if self.result is None:
            return {}
        p = self.result.preview
        return {s.name: s.tokens for s in p.sections} | {
            "examples": p.examples_tokens,
            "chat format": p.format_tokens,
        }
