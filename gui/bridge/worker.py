"""Run engine work off the GUI thread and deliver what it yields as queued Qt signals.

The idea of superqt's `thread_worker` and Orange3's `TaskState`: the work is a plain
function `fn(state, *args)`; if it returns a generator, every item becomes a `yielded`
signal and the abort flag is checked between items. The function may also report
items itself with `state.emit(...)` (a callback-style engine API such as `prepare`) and
passes `state.cancel` (an engine `CancelToken`) down so that long steps stop early.

Signals live on a separate QObject created in the GUI thread, so every emission from the
worker thread is queued to the GUI thread: widgets only change in main-thread slots.

`batch_s` (opt-in, for fast streams such as tokens): items that arrive within `batch_s` of
the last crossing are sent together as one queued `batch` signal, and re-emitted one by one
as `yielded` in the GUI thread: listeners see the same items in the same order, but the
worker marshals one signal (and wakes the GUI thread once) per batch instead of per item.
The first item after a quiet spell crosses at once; the rest wait at most `batch_s` or
until the next item, and whatever is pending crosses before `returned`/`done`.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import Cancelled
from engine.progress import CancelToken
from gui.bridge.messages import report

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """What a worker tells the GUI; `done` always comes last, exactly once."""

    started = Signal()
    yielded = Signal(object)
    batch = Signal(object)  # a list of items (workers with `batch_s`); re-emitted as yielded
    returned = Signal(object)
    errored = Signal(object)  # the exception
    aborted = Signal()
    done = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.batch.connect(self._unbatch)  # queued from the worker, runs in the GUI thread

    def _unbatch(self, items: list[Any]) -> None:
        for item in items:
            self.yielded.emit(item)


class TaskState:
    """Handed to the work function: emit partial results, ask whether it was aborted."""

    def __init__(self, signals: WorkerSignals) -> None:
        self.cancel = CancelToken()
        self._signals = signals

    @property
    def aborted(self) -> bool:
        return self.cancel.cancelled

    def emit(self, item: object) -> None:
        self._signals.yielded.emit(item)


class Worker(QRunnable):
    """One unit of background work; start it with a `WorkerPool`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        report_errors: bool = True,
        batch_s: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the pool keeps the Python object alive until `done`
        self.signals = WorkerSignals()
        self.state = TaskState(self.signals)
        self.name = name or getattr(fn, "__name__", "work")
        self.report_errors = report_errors
        self.batch_s = batch_s
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self.finished = False

    def abort(self) -> None:
        """Ask the work to stop: checked between items and by the engine's CancelToken."""
        self.state.cancel.cancel()

    def run(self) -> None:
        signals = self.signals
        signals.started.emit()
        stopped_early = False
        try:
            result = self._fn(self.state, *self._args, **self._kwargs)
            if isinstance(result, Iterator):
                result, stopped_early = self._drain(result)
        except Cancelled:
            signals.aborted.emit()
        except Exception as exc:  # noqa: BLE001 - delivered to the GUI as a signal, never lost
            log.error("worker %s failed:\n%s", self.name, traceback.format_exc())
            if self.report_errors:
                report("error", f"{self.name}: {exc}", traceback.format_exc())
            signals.errored.emit(exc)
        else:
            # Work that finished despite a late abort request did finish: report it.
            if stopped_early:
                signals.aborted.emit()
            else:
                signals.returned.emit(result)
        finally:
            self.finished = True
            signals.done.emit()

    def _drain(self, items: Iterator[Any]) -> tuple[Any, bool]:
        """(the generator's return value, whether the abort flag stopped it early)."""
        pending: list[Any] = []
        last = 0.0
        try:
            while not self.state.aborted:
                try:
                    item = next(items)
                except StopIteration as stop:
                    return stop.value, False
                if self.batch_s <= 0:
                    self.signals.yielded.emit(item)
                    continue
                pending.append(item)
                now = time.monotonic()
                if now - last >= self.batch_s:
                    self.signals.batch.emit(pending)
                    pending, last = [], now
            return None, True
        finally:
            if pending:  # before returned/aborted/done, which are emitted after this
                self.signals.batch.emit(pending)
            close = getattr(items, "close", None)
            if close is not None:
                close()


class WorkerPool(QObject):
    """Starts workers on a QThreadPool and keeps them referenced until they are done."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._active: set[Worker] = set()

    def start(self, worker: Worker) -> Worker:
        self._active.add(worker)
        worker.signals.done.connect(lambda w=worker: self._active.discard(w))
        self._pool.start(worker)
        return worker

    @property
    def active(self) -> int:
        return len(self._active)

    def abort_all(self) -> None:
        for worker in list(self._active):
            worker.abort()

    def wait(self, msecs: int = -1) -> bool:
        return bool(self._pool.waitForDone(msecs))
