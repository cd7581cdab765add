"""GUI fixtures: offscreen Qt (tests/conftest.py sets QT_QPA_PLATFORM), a context whose
sampler is driven by hand, the main window, and the tiny models' data home (the model
fixtures themselves are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _qt_app_config() -> None:
    from gui.app import create_app

    create_app()


@pytest.fixture
def ctx(qtbot: object) -> Iterator[object]:
    from gui.context import AppContext

    context = AppContext(sample_seconds=60)
    yield context
    context.shutdown()


@pytest.fixture
def window(ctx: object, qtbot: object) -> Iterator[object]:
    from gui.window import MainWindow

    win = MainWindow(ctx)  # type: ignore[arg-type]
    qtbot.addWidget(win)  # type: ignore[attr-defined]
    win.show()
    yield win


@pytest.fixture
def tiny_models(tiny_int4: Path, tiny_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data home holding the prepared tiny models (read-only for the tests)."""
    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(tiny_home))
    return tiny_home
