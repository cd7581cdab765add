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
