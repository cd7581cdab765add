"""Uncaught exceptions of the GUI thread and of any Python thread reach the message path."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from gui.bridge.messages import install_excepthooks, message_bridge, uninstall_excepthooks


@pytest.fixture
def hooks() -> Iterator[list[object]]:
    got: list[object] = []
    install_excepthooks()
    message_bridge().message.connect(got.append)
    yield got
    message_bridge().message.disconnect(got.append)
    uninstall_excepthooks()


def test_sys_excepthook_reports_the_error(hooks: list[object], qtbot) -> None:
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: bool(hooks))
    msg = hooks[-1]
    assert msg.level == "error" and "RuntimeError: boom in a slot" in msg.text
    assert "Traceback" in msg.detail


def test_thread_excepthook_reports_errors_of_other_threads(hooks: list[object], qtbot) -> None:
    def fail() -> None:
        raise ValueError("bad counter")

    thread = threading.Thread(target=fail, name="aw-test-thread")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(hooks))
    assert "error in thread aw-test-thread: ValueError: bad counter" in hooks[-1].text


@pytest.mark.parametrize("first_from", ["worker", "python thread"])
def test_the_bridge_lives_in_the_gui_thread_whoever_reports_first(
    qtbot, monkeypatch: pytest.MonkeyPatch, first_from: str
) -> None:
    """Which test (or thread) reports first must not decide whether messages arrive."""
    from PySide6.QtCore import QCoreApplication

    from gui.bridge import Worker, WorkerPool, messages

    monkeypatch.setattr(messages, "_bridge", None)  # as at the start of a test process
    if first_from == "worker":
        pool = WorkerPool()
        pool.start(Worker(lambda state: messages.report("info", "first, from a worker")))
        assert pool.wait(5000)
    else:
        thread = threading.Thread(target=messages.report, args=("info", "first, from a thread"))
        thread.start()
        thread.join()
    bridge = message_bridge()
    assert bridge.thread() is QCoreApplication.instance().thread()
    got: list[str] = []
    bridge.message.connect(lambda m: got.append(m.text))
    messages.report("warning", "from the GUI thread")
    worker = threading.Thread(target=messages.report, args=("error", "from another thread"))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=2000)
    assert got == ["from the GUI thread", "from another thread"]
