"""GUI fixtures: offscreen Qt (tests/conftest.py sets QT_QPA_PLATFORM), a context whose
sampler is driven by hand, the main window, and the engine's tiny-model fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import default_embedder, tiny_hf, tiny_home, tiny_int4

__all__ = ["default_embedder", "tiny_hf", "tiny_home", "tiny_int4"]


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
