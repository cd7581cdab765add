"""Run engine work off the GUI thread and deliver what it yields as queued Qt signals.

The idea of superqt's `thread_worker` and Orange3's `TaskState`: the work is a plain
function `fn(state, *args)`; if it returns a generator, every item becomes a `yielded`
signal and the abort flag is checked between items. The function may also report
items itself with `state.emit(...)` (a callback-style engine API such as `prepare`) and
passes `state.cancel` (an engine `CancelToken`) down so that long steps stop early.

Signals live on a separate QObject created in the GUI thread, so every emission from the
worker thread is queued to the GUI thread: widgets only change in main-thread slots.

`batch_s` (opt-in, for fast streams such as tokens): items that arrive within `batch_s` of
the last crossing are sent together as one queued `batch` signal (a list, oldest first).
Listeners that take lists connect to `batch` and handle a whole batch in one slot call;
for the others each item is re-emitted as `yielded` in the GUI thread (only while
something is connected to `yielded`), in the same order. The first item after a quiet
spell crosses at once. `batchable(item)` (default: every item) says which items may wait:
any other item crosses at once, together with whatever was pending, so an event the
person must see now (a tool call, a question) is never held back behind a slow step.
Whatever is pending crosses before `returned`/`aborted`/`done`.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QMetaMethod, QObject, QRunnable, QThreadPool, Signal

from engine.errors import Cancelled
from engine.progress import CancelToken
from gui.bridge.messages import report

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    """What a worker tells the GUI; `done` always comes last, exactly once."""

    started = Signal()
    yielded = Signal(object)
    batch = Signal(object)  # a list of items (workers with `batch_s`); see the module doc
    returned = Signal(object)
    errored = Signal(object)  # the exception
    aborted = Signal()
    done = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.batch.connect(self._unbatch)  # queued from the worker, runs in the GUI thread
        self._yielded = QMetaMethod.fromSignal(self.yielded)

    def _unbatch(self, items: list[Any]) -> None:
        if not self.isSignalConnected(self._yielded):
            return  # every listener takes the lists: no per-item signal at all
        for item in items:
            self.yielded.emit(item)


class TaskState:
    """Handed to the work function: emit partial results, ask whether it was aborted."""

    def __init__(
        self,
        signals: WorkerSignals,
        batch_s: float = 0.0,
        batchable: Callable[[Any], bool] | None = None,
    ) -> None:
        self.cancel = CancelToken()
        self._signals = signals
        self._batch_s = batch_s
        self._batchable = batchable
        self._pending: list[Any] = []
        self._last = 0.0

    @property
    def aborted(self) -> bool:
        return self.cancel.cancelled

    def emit(self, item: object) -> None:
        """Send one item to the GUI thread (in a batch when the worker has `batch_s`)."""
        if self._batch_s <= 0:
            self._signals.yielded.emit(item)
            return
        self._pending.append(item)
        now = time.monotonic()
        urgent = self._batchable is not None and not self._batchable(item)
        if urgent or now - self._last >= self._batch_s:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Send whatever is pending now."""
        if self._pending:
            pending, self._pending = self._pending, []
            self._signals.batch.emit(pending)
            self._last = time.monotonic() if now is None else now


class Worker(QRunnable):
    """One unit of background work; start it with a `WorkerPool`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        report_errors: bool = True,
        batch_s: float = 0.0,
        batchable: Callable[[Any], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the pool keeps the Python object alive until `done`
        self.signals = WorkerSignals()
        self.state = TaskState(self.signals, batch_s, batchable)
        self.name = name or getattr(fn, "__name__", "work")
        self.report_errors = report_errors
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
            try:
                result = self._fn(self.state, *self._args, **self._kwargs)
                if isinstance(result, Iterator):
                    result, stopped_early = self._drain(result)
            finally:  # what is pending crosses before returned/errored/aborted/done
                self.state.flush()
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
        try:
            while not self.state.aborted:
                try:
                    item = next(items)
                except StopIteration as stop:
                    return stop.value, False
                self.state.emit(item)
            return None, True
        finally:
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
