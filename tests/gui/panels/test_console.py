"""Generation console: a real generation on the tiny model streams into the text box."""

from __future__ import annotations

import time
from pathlib import Path

from engine.llm.events import GenerationFinished, TokenDelta
from engine.printable import printable
from gui.panels.console import QtGenerationConsole


def _console(ctx, qtbot) -> QtGenerationConsole:
    console = QtGenerationConsole(ctx)
    qtbot.addWidget(console)
    console.show()
    return console


def test_generation_streams_into_the_console(ctx, qtbot, tiny_models: Path) -> None:
    console = _console(ctx, qtbot)
    assert "tiny-int4" in [console.model.itemText(i) for i in range(console.model.count())]
    console.model.setCurrentText("tiny-int4")
    console.chat.setChecked(False)
    console.max_tokens.setValue(40)
    console.prompt.setPlainText("The capital of France is")
    events: list[object] = []
    ctx.generation.received.connect(events.extend)
    worker = console.run()
    assert worker is not None and not console.run_button.isEnabled()
    qtbot.waitUntil(lambda: console.worker is None, timeout=60000)
    deltas = [e for e in events if isinstance(e, TokenDelta)]
    finished = console.finished
    assert isinstance(finished, GenerationFinished) and events[-1] is finished
    assert finished.stats.new_tokens == 40 and len(deltas) >= 40
    assert console.output.toPlainText() == printable(finished.text)  # control characters shown
    assert 1 <= console.batcher.flushes < len(deltas)  # batched, not one append per token
    assert console.rate.text() == f"{finished.stats.decode_tok_s:.1f} tok/s"
    assert console.ttft.text().startswith("TTFT ")
    assert "40 tokens, stop: max_tokens" in console.status.text()
    assert console.run_button.isEnabled() and not console.stop_button.isEnabled()


def test_stop_ends_the_generation_early(ctx, qtbot, tiny_models: Path, monkeypatch) -> None:
    from engine.llm.session import LLMSession

    real = LLMSession.generate

    def paced(self, *args, **kwargs):  # the tiny model fills its context in ~40 ms
        for event in real(self, *args, **kwargs):
            time.sleep(0.005)
            yield event

    monkeypatch.setattr(LLMSession, "generate", paced)
    console = _console(ctx, qtbot)
    console.model.setCurrentText("tiny-int4")
    console.max_tokens.setValue(4000)
    console.prompt.setPlainText("Count:")
    tokens: list[object] = []
    ctx.generation.received.connect(tokens.extend)
    console.run()
    qtbot.waitUntil(lambda: len(tokens) >= 5, timeout=60000)
    console.stop_button.click()
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert console.status.text().startswith("Stopped after")
    assert len(tokens) < 400  # the context holds ~500


def test_missing_model_is_a_readable_error(ctx, qtbot) -> None:
    console = _console(ctx, qtbot)
    console.model.setCurrentText("no-such-model")
    console.prompt.setPlainText("hi")
    console.run()
    qtbot.waitUntil(lambda: console.worker is None, timeout=10000)
    assert console.status.text().startswith("Failed: ")
    assert "prepare" in console.status.text()


def test_empty_prompt_is_refused(ctx, qtbot) -> None:
    console = _console(ctx, qtbot)
    console.model.setCurrentText("default")
    assert console.run() is None
    assert console.status.text() == "Type a prompt first."
