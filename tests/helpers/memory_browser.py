"""The memory browser tests' data and waits (their fixtures: tests/gui/panels/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

FACTS = [
    "The user prefers metric units for every measurement.",
    "The staging server is rebooted every Sunday at 03:00 UTC.",
    "Alice is allergic to peanuts and avoids Thai restaurants.",
    "The quarterly report is due on the fifth working day of the quarter.",
    "Our VPN uses WireGuard on port 51820.",
]
LESSON = "Lesson: check the VPN port in the runbook before answering network questions."


def wait_op(qtbot: object, panel: object, name: str, timeout: int = 60_000) -> object:
    """A context manager waiting for the panel to finish the operation `name`."""
    return qtbot.waitSignal(  # type: ignore[attr-defined]
        panel.finished,  # type: ignore[attr-defined]
        timeout=timeout,
        check_params_cb=lambda done: done == name,
    )


def listed_panel(qtbot: object, make_panel: Callable[[], object]) -> object:
    """A panel that opened the only store and listed its first page."""
    panel = make_panel()
    qtbot.waitUntil(  # type: ignore[attr-defined]
        lambda: panel.pages.total > 0 and not panel.pages.pending,  # type: ignore[attr-defined]
        timeout=60_000,
    )
    return panel
