"""One path for messages and errors from anywhere (qutebrowser's GlobalMessageBridge idea).

Code in any thread calls `report(level, text)`; the bridge lives in the GUI thread, so the
window's slots receive the message queued. Uncaught exceptions in the GUI thread
(`sys.excepthook`) and in any Python thread (`threading.excepthook`) arrive the same way
instead of killing the window silently.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from dataclasses import dataclass
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QObject, Signal

log = logging.getLogger("gui")

LEVELS = ("info", "warning", "error")


@dataclass(frozen=True)
class Message:
    level: str  # info | warning | error
    text: str
    detail: str = ""


class MessageBridge(QObject):
    message = Signal(object)  # Message


_bridge: MessageBridge | None = None
_create = threading.Lock()


def message_bridge() -> MessageBridge:
    """The bridge, created on first use and always living in the application's thread.

    The first use may come from a worker (a `report` from a pool thread, as in a test that
    never called `install_excepthooks`): a QObject lives in the thread that made it, and a
    bridge left in a pool thread would queue every later message to a thread with no event
    loop, so nothing connected to it would ever hear of them again."""
    global _bridge
    with _create:
        if _bridge is None:
            bridge = MessageBridge()
            app = QCoreApplication.instance()
            if app is not None and bridge.thread() is not app.thread():
                bridge.moveToThread(app.thread())  # pushed from its own thread: allowed
            _bridge = bridge
    return _bridge


def report(level: str, text: str, detail: str = "") -> None:
    """Show `text` to the person (status bar + Messages panel) and log it."""
    if level not in LEVELS:
        raise ValueError(f"unknown message level {level!r}: use one of {LEVELS}")
    getattr(log, level)("%s%s", text, f"\n{detail}" if detail else "")
    message_bridge().message.emit(Message(level, text, detail))


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    detail = "".join(traceback.format_exception(exc_type, exc, tb))
    report("error", f"unexpected error: {exc_type.__name__}: {exc}", detail)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    detail = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    report("error", f"error in thread {name}: {args.exc_type.__name__}: {args.exc_value}", detail)


def install_excepthooks() -> None:
    """Route uncaught exceptions of every thread to the message path (GUI thread only)."""
    message_bridge()
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def uninstall_excepthooks() -> None:
    sys.excepthook = sys.__excepthook__
    threading.excepthook = threading.__excepthook__
