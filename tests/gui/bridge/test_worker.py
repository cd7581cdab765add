"""The worker bridge: generator items as queued signals, abort between items, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from engine.errors import Cancelled, ModelError
from gui.bridge import TaskState, Worker, WorkerPool
from gui.bridge.messages import message_bridge


def _count(state: TaskState, n: int) -> Iterator[int]:
    yield from range(n)
    return n * 10


def test_items_arrive_in_order_in_the_gui_thread(qtbot) -> None:
    pool = WorkerPool()
    got: list[tuple[int, bool]] = []
    worker = Worker(_count, 5)
    worker.signals.yielded.connect(
        lambda i: got.append((i, threading.current_thread() is threading.main_thread()))
    )
    returned: list[object] = []
    worker.signals.returned.connect(returned.append)
    with qtbot.waitSignals(
        [worker.signals.started, worker.signals.returned, worker.signals.done], order="strict"
    ):
        pool.start(worker)
    assert got == [(i, True) for i in range(5)]
    assert returned == [50]
    pool.wait()
    qtbot.waitUntil(lambda: pool.active == 0)


def test_abort_is_checked_between_items(qtbot) -> None:
    release = threading.Event()

    def endless(state: TaskState) -> Iterator[int]:
        i = 0
        while True:
            release.wait(5)
            yield i
            i += 1

    pool = WorkerPool()
    worker = Worker(endless)
    items: list[int] = []
    worker.signals.yielded.connect(items.append)
    returned: list[object] = []
    worker.signals.returned.connect(returned.append)
    with qtbot.waitSignal(worker.signals.aborted, timeout=5000):
        pool.start(worker)
        qtbot.waitUntil(lambda: worker.state is not None)
        worker.abort()
        release.set()
    qtbot.waitUntil(lambda: worker.finished)
    assert returned == []
    assert len(items) <= 1


def test_cancelled_from_the_engine_is_an_abort_not_an_error(qtbot) -> None:
    def cancelled(state: TaskState) -> None:
        raise Cancelled("cancelled")

    worker = Worker(cancelled)
    errors: list[object] = []
    worker.signals.errored.connect(errors.append)
    with qtbot.waitSignal(worker.signals.aborted):
        WorkerPool().start(worker)
    assert errors == []


def test_errors_arrive_as_a_signal_and_on_the_message_path(qtbot) -> None:
    def broken(state: TaskState) -> Iterator[int]:
        yield 1
        raise ModelError("the model folder is gone; prepare it again")

    messages: list[object] = []
    message_bridge().message.connect(messages.append)
    worker = Worker(broken, name="load")
    with qtbot.waitSignal(worker.signals.errored) as blocker:
        WorkerPool().start(worker)
    assert isinstance(blocker.args[0], ModelError)
    qtbot.waitUntil(lambda: bool(messages))
    assert messages[-1].level == "error"
    assert "load: the model folder is gone" in messages[-1].text
    assert "Traceback" in messages[-1].detail
    message_bridge().message.disconnect(messages.append)


def test_callback_style_work_reports_through_the_state(qtbot) -> None:
    def callback_style(state: TaskState) -> str:
        for stage in ("export", "quantize"):
            state.emit(stage)
        return "ok"

    worker = Worker(callback_style)
    got: list[object] = []
    worker.signals.yielded.connect(got.append)
    with qtbot.waitSignal(worker.signals.returned) as blocker:
        WorkerPool().start(worker)
    assert got == ["export", "quantize"] and blocker.args == ["ok"]


def test_unknown_message_level_is_refused() -> None:
    from gui.bridge import report

    with pytest.raises(ValueError, match="unknown message level"):
        report("loud", "x")


def test_work_that_finished_before_a_late_abort_reports_its_result(qtbot) -> None:
    def quick(state: TaskState) -> str:
        state.cancel.cancel()  # as if Cancel was pressed just after the last step
        return "done"

    worker = Worker(quick)
    with qtbot.waitSignal(worker.signals.returned) as blocker:
        WorkerPool().start(worker)
    assert blocker.args == ["done"]


def test_batched_items_cross_in_few_signals_in_order_before_done(qtbot) -> None:
    """A fast stream with `batch_s`: same items, same order, far fewer queued signals."""

    def fast(state: TaskState) -> Iterator[int]:
        for i in range(200):
            time.sleep(0.0005)  # a stream spread over time, so batching has something to do
            yield i
        return 7

    worker = Worker(fast, batch_s=0.02)
    got: list[tuple[int, bool]] = []
    batches: list[int] = []
    order: list[str] = []
    worker.signals.yielded.connect(
        lambda i: got.append((i, threading.current_thread() is threading.main_thread()))
    )
    worker.signals.batch.connect(lambda items: batches.append(len(items)))
    worker.signals.returned.connect(lambda _: order.append(f"returned after {len(got)}"))
    worker.signals.done.connect(lambda: order.append(f"done after {len(got)}"))
    with qtbot.waitSignal(worker.signals.done, timeout=10000):
        WorkerPool().start(worker)
    assert got == [(i, True) for i in range(200)]
    assert sum(batches) == 200
    assert 2 <= len(batches) < 100  # >= 0.1 s of items in 20 ms batches, first item alone
    assert batches[0] == 1  # the first item after a quiet spell crosses at once
    assert order == ["returned after 200", "done after 200"]


def test_batched_items_before_an_error_are_delivered(qtbot) -> None:
    def broken(state: TaskState) -> Iterator[int]:
        yield from range(5)
        raise ModelError("the model folder is gone; prepare it again")

    worker = Worker(broken, batch_s=10.0, report_errors=False)
    got: list[object] = []
    worker.signals.yielded.connect(got.append)
    worker.signals.errored.connect(lambda exc: got.append(type(exc).__name__))
    with qtbot.waitSignal(worker.signals.done):
        WorkerPool().start(worker)
    assert got == [0, 1, 2, 3, 4, "ModelError"]


def test_an_urgent_item_crosses_at_once_with_what_was_pending(qtbot) -> None:
    """With `batchable`, an item that may not wait is delivered while the worker still
    blocks after it (a tool call before a slow tool, a question before its answer)."""
    seen = threading.Event()

    def stream(state: TaskState) -> Iterator[object]:
        yield from range(5)  # tokens: may wait (batch_s is 10 s)
        yield "tool call"  # urgent: must reach the GUI before the slow step below
        return "seen" if seen.wait(5.0) else "held back"

    worker = Worker(stream, batch_s=10.0, batchable=lambda item: isinstance(item, int))
    batches: list[list[object]] = []

    def on_batch(items: list[object]) -> None:
        batches.append(items)
        if "tool call" in items:
            seen.set()

    worker.signals.batch.connect(on_batch)
    with qtbot.waitSignal(worker.signals.returned, timeout=10000) as blocker:
        WorkerPool().start(worker)
    assert blocker.args == ["seen"]
    assert batches == [[0], [1, 2, 3, 4, "tool call"]]


def test_callback_style_work_is_batched_and_flushed_before_returned(qtbot) -> None:
    """`state.emit` (work that reports items itself) batches the same way; list listeners
    alone get everything, and nothing is left pending when `returned` arrives."""

    def report(state: TaskState) -> int:
        for i in range(50):
            state.emit(i)
        return 50

    worker = Worker(report, batch_s=10.0)
    got: list[int] = []
    order: list[str] = []
    worker.signals.batch.connect(got.extend)
    worker.signals.returned.connect(lambda n: order.append(f"returned after {len(got)}"))
    with qtbot.waitSignal(worker.signals.done, timeout=10000):
        WorkerPool().start(worker)
    assert got == list(range(50))
    assert order == ["returned after 50"]


def test_state_flush_sends_pending_items_now(qtbot) -> None:
    seen = threading.Event()

    def ask(state: TaskState) -> str:
        state.emit("first")  # crosses at once (quiet spell)
        state.emit("token")  # pending: the batch window is 10 s
        state.flush()  # e.g. before asking the person a question
        return "flushed" if seen.wait(5.0) else "held back"

    worker = Worker(ask, batch_s=10.0)
    worker.signals.batch.connect(lambda items: seen.set() if "token" in items else None)
    with qtbot.waitSignal(worker.signals.returned, timeout=10000) as blocker:
        WorkerPool().start(worker)
    assert blocker.args == ["flushed"]
