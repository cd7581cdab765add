"""Answer a static `QFileDialog` method the way a person would, without showing it.

`answer(monkeypatch, "getOpenFileName", ("/x.yaml", "filter"))` makes every call of that
method return the given value (a cancelled dialog: `("", "")`, `""` or `([], "")`) and
returns the list of the calls' arguments (parent, caption, start, filter...), so a test
can check where the dialog would have opened and with which filter.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog

CANCEL = {
    "getOpenFileName": ("", ""),
    "getOpenFileNames": ([], ""),
    "getSaveFileName": ("", ""),
    "getExistingDirectory": "",
}


def answer(monkeypatch: pytest.MonkeyPatch, method: str, result: Any) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def dialog(*args: Any, **kwargs: Any) -> Any:
        calls.append(args + tuple(kwargs.values()))
        return result

    monkeypatch.setattr(QFileDialog, method, staticmethod(dialog))
    return calls


def cancel(monkeypatch: pytest.MonkeyPatch, method: str) -> list[tuple[Any, ...]]:
    return answer(monkeypatch, method, CANCEL[method])


def forbid(monkeypatch: pytest.MonkeyPatch, *methods: str) -> None:
    """Fail the test if one of these dialogs is opened."""
    for method in methods:

        def dialog(*args: Any, name: str = method, **kwargs: Any) -> Any:
            raise AssertionError(f"QFileDialog.{name} opened: {args[1:3]}")

        monkeypatch.setattr(QFileDialog, method, staticmethod(dialog))
