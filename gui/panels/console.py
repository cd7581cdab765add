"""`QtGenerationConsole`: prompt in, streamed text out, on the real engine.

Run/Stop drive one worker that loads the session (if needed) and iterates
`LLMSession.generate`; tokens reach the text box through a `TextBatcher`, and every
event is published on `ctx.generation` for the profiler. Phase 2 grows this into the
agent run console.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import paths
from engine.llm.chat import chat_prompt
from engine.llm.events import GenerationEvent, GenerationFinished, TokenDelta
from engine.telemetry.metrics import RollingRate
from gui.bridge import TaskState, Worker
from gui.context import AppContext
from gui.panels.registry import register_panel
from gui.sessions import SessionHolder
from gui.widgets.metric_label import MetricLabel
from gui.widgets.text_batcher import TextBatcher

#: Token events cross from the worker to the GUI thread in batches of this many seconds
#: (one queued signal per batch instead of one per token; gui.bridge.worker).
TOKEN_BATCH_S = 0.05
#: The live tokens/s figure changes at most this often (a number that changes 40 times a
#: second cannot be read anyway).
RATE_EVERY_S = 0.25


def run_generation(
    state: TaskState,
    holder: SessionHolder,
    model: str,
    provider: str,
    prompt: str,
    max_new_tokens: int,
    chat: bool,
    messages: Sequence[dict[str, str]] | None = None,
) -> Iterator[GenerationEvent]:
    """Worker body: load (or reuse) the session, then stream its events."""
    with holder.busy("a generation in the Generation console"):
        session = holder.load(model, provider)
        stop: list[str] = []
        if chat or messages:
            turns = list(messages) if messages else [{"role": "user", "content": prompt}]
            prompt, stop = chat_prompt(session, turns)
        yield from session.generate(
            prompt, max_new_tokens=max_new_tokens, stop=stop, cancel=state.cancel
        )


def _is_token(event: object) -> bool:
    return isinstance(event, TokenDelta)


@register_panel(
    "console", "Generation console", area="right", order=20, shortcut="Ctrl+2", tab_with="run"
)
class QtGenerationConsole(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.worker: Worker | None = None
        self.finished: GenerationFinished | None = None
        self.model = QComboBox()
        self.model.setEditable(True)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 8192)
        self.max_tokens.setValue(128)
        self.chat = QCheckBox("chat template")
        self.chat.setChecked(True)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Prompt (Ctrl+Enter runs)")
        self.prompt.setMaximumHeight(90)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("primary")
        self.run_button.setShortcut("Ctrl+Return")
        self.run_button.clicked.connect(lambda: self.run())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setShortcut("Escape")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.output = QPlainTextEdit(readOnly=True)
        self.batcher = TextBatcher(self.output)
        self.status = QLabel("Ready.")
        self.status.setObjectName("caption")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it quotes errors
        self.ttft = MetricLabel("TTFT –", "TTFT 99999 ms")
        self.rate = MetricLabel("– tok/s", "99999.9 tok/s")
        options = QHBoxLayout()
        options.addWidget(QLabel("Model"))
        options.addWidget(self.model, 1)
        options.addWidget(QLabel("Max tokens"))
        options.addWidget(self.max_tokens)
        options.addWidget(self.chat)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.ttft)
        buttons.addSpacing(16)
        buttons.addWidget(self.rate)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(options)
        layout.addWidget(self.prompt)
        layout.addLayout(buttons)
        layout.addWidget(self.output, 1)
        layout.addWidget(self.status)
        self._rolling = RollingRate(2.0)
        self._next_rate = 0.0
        self._t_run = 0.0
        self._tokens = 0
        self.refresh_models()
        ctx.sessions.changed.connect(self._on_session)

    def refresh_models(self) -> None:
        current = self.model.currentText()
        names = sorted(p.name for p in paths.models_dir().iterdir() if (p / "model.json").is_file())
        self.model.clear()
        self.model.addItems(names)
        if current:
            self.model.setCurrentText(current)
        elif "default" in names:
            self.model.setCurrentText("default")

    def _on_session(self, session: Any) -> None:
        in_home = session.folder.parent.resolve() == paths.models_dir().resolve()
        self.model.setCurrentText(session.manifest.name if in_home else str(session.folder))
        self.status.setText(f"{session.manifest.name}: {session.provider.describe()}")

    # ------------------------------------------------------------------ run
    def run(
        self,
        messages: Sequence[dict[str, str]] | None = None,
        before_start: Callable[[Worker], None] | None = None,
    ) -> Worker | None:
        """Start a generation; `before_start` connects to the worker before it can finish."""
        if self.worker is not None:
            return None
        prompt = self.prompt.toPlainText()
        model = self.model.currentText().strip()
        if not model:
            self.status.setText("No model: prepare one in the Models panel first.")
            return None
        if not prompt.strip() and not messages:
            self.status.setText("Type a prompt first.")
            return None
        current = self.ctx.sessions.current
        provider = current.provider.requested if current is not None else "auto"
        self.output.clear()
        self.finished = None
        self._tokens = 0
        self._rolling = RollingRate(2.0)
        self._next_rate = 0.0
        self._t_run = time.monotonic()
        self.ttft.setText("TTFT …")
        self.rate.setText("– tok/s")
        self.status.setText(f"Generating with {model}…")
        worker = Worker(
            run_generation,
            self.ctx.sessions,
            model,
            provider,
            prompt,
            self.max_tokens.value(),
            self.chat.isChecked(),
            messages=messages,
            name="generation",
            batch_s=TOKEN_BATCH_S,
            batchable=_is_token,
        )
        worker.signals.batch.connect(self._on_events)
        worker.signals.errored.connect(lambda exc: self.status.setText(f"Failed: {exc}"))
        worker.signals.aborted.connect(self._on_aborted)
        worker.signals.done.connect(self._on_done)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.ctx.generation.publish_started()
        if before_start is not None:
            before_start(worker)
        self.ctx.pool.start(worker)
        return worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.abort()
            self.status.setText("Stopping…")

    def _on_events(self, events: list[object]) -> None:
        """One batch from the worker (gui.bridge.worker): the text, the rates, the feed."""
        for event in events:
            if isinstance(event, TokenDelta):
                self.batcher.append(event.text)
                if event.token_id >= 0:
                    self._tokens += 1
                    self._rolling.add(event.t)
                    if self._tokens == 1:
                        self.ttft.setText(f"TTFT {(event.t - self._t_run) * 1000:.0f} ms")
            elif isinstance(event, GenerationFinished):
                self._on_finished(event)
        now = time.monotonic()
        if self._tokens > 1 and self.finished is None and now >= self._next_rate:
            self._next_rate = now + RATE_EVERY_S
            last = events[-1]
            self.rate.setText(f"{self._rolling.rate(getattr(last, 't', now)):.1f} tok/s")
        self.batcher.flush()
        self.ctx.generation.publish(events)

    def _on_finished(self, event: GenerationFinished) -> None:
        self.finished = event
        st = event.stats
        self.ttft.setText(f"TTFT {st.ttft_ms:.0f} ms")
        self.rate.setText(f"{st.decode_tok_s:.1f} tok/s")
        self.status.setText(
            f"{st.new_tokens} tokens, stop: {event.stop_reason}; prompt {st.prompt_tokens} "
            f"tok ({st.cached_tokens} cached), prefill {st.prefill_tok_s:.0f} tok/s, "
            f"on {st.provider}"
        )

    def _on_aborted(self) -> None:
        self.status.setText(f"Stopped after {self._tokens} tokens.")

    def _on_done(self) -> None:
        self.batcher.flush()
        self.worker = None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
