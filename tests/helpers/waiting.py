"""Wait for a condition instead of sleeping a fixed time (Qt tests: qtbot.waitUntil)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], object], timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> None:
    """Poll `condition()` every `interval` s until it is truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)
