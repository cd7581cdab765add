"""`agent-workbench [gui] [--screenshot FILE] [--demo]`: start the window.

`--demo` runs a short generation on the default model with the profiler visible;
`--screenshot FILE` saves the whole window once it is idle (after the demo when both are
given) and exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from engine.paths import resource

DEMO_FILE = resource("demo", "window_demo.yaml")


def build_parser(prog: str = "agent-workbench gui") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Open the workbench window")
    parser.add_argument("--screenshot", metavar="FILE", help="save the window as PNG and exit")
    parser.add_argument("--demo", action="store_true", help="run a short generation")
    parser.add_argument("--model", default="default", help="model for --demo")
    parser.add_argument("--theme", choices=["dark", "light"], help="override the saved theme")
    parser.add_argument(
        "--settle", type=float, default=1.5, help="seconds of live charts before --screenshot"
    )
    return parser


def create_app() -> object:
    """The QApplication (created once), with pyqtgraph configured before any plot."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(useOpenGL=False, antialias=True, background=None)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Agent Workbench")
    app.setOrganizationName("agent-workbench")
    return app


def start_demo(
    window: object, model: str, before_start: Callable[[Any], None] | None = None
) -> object:
    """Put the demo conversation into the console and run it; returns the worker.

    `before_start` gets the worker before it starts, so no signal can be missed."""
    from gui.window import MainWindow

    assert isinstance(window, MainWindow)
    demo = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    _show_demo_agent(window)
    from PySide6.QtCore import QTimer

    def to_front() -> None:  # after the first-start layout, which raises its own tabs
        for front in ("console", "profiler"):  # the generation console and the live charts
            if front in window.docks:
                window.docks[front].raise_()

    QTimer.singleShot(0, to_front)
    console = window.panels["console"]
    console.model.setCurrentText(model)  # type: ignore[attr-defined]
    console.max_tokens.setValue(int(demo["max_new_tokens"]))  # type: ignore[attr-defined]
    console.prompt.setPlainText(demo["messages"][-1]["content"])  # type: ignore[attr-defined]
    return console.run(  # type: ignore[attr-defined]
        messages=demo["messages"], before_start=before_start
    )


def _show_demo_agent(window: Any) -> None:
    """With no agent open, the designer shows the calculator template (a copy in the
    data home's agents/ folder, made once): a screenshot shows every panel at work."""
    from engine import paths

    designer = window.panels.get("designer")
    if designer is None or designer.model.path is not None:
        return
    path = paths.agents_dir() / "demo-calculator.agent.yaml"
    if path.is_file():
        designer.open_file(path)
    else:
        designer.new_from_template("calculator", path)


def display_problem(env: dict[str, str] | None = None, platform: str = sys.platform) -> str:
    """Why no window can open here ("" when it can): Qt would abort without a message."""
    env = dict(os.environ) if env is None else env
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return ""
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return ""
    return (
        "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set): "
        "start it from a desktop session, or use QT_QPA_PLATFORM=offscreen python main.py "
        "gui --screenshot FILE [--demo], or the headless commands (python main.py demo)"
    )


def main(argv: Sequence[str] | None = None, prog: str = "agent-workbench gui") -> int:
    args = build_parser(prog).parse_args(list(argv or []))
    problem = display_problem()
    if problem:
        sys.stderr.write(f"error: {problem}\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.bridge.messages import install_excepthooks
    from gui.context import AppContext
    from gui.theme import apply_theme
    from gui.window import MainWindow

    assert isinstance(app, QApplication)
    install_excepthooks()
    ctx = AppContext()
    if args.theme:
        ctx.set_theme(args.theme)
    apply_theme(app, ctx.theme)
    ctx.start()
    window = MainWindow(ctx)
    window.show()
    status = {"code": 0}

    def shoot() -> None:
        path = Path(args.screenshot).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path)):
            sys.stderr.write(f"error: could not write the screenshot {path}\n")
            status["code"] = 2
        else:
            sys.stderr.write(f"screenshot: {path}\n")
        window.close()

    def settle_then_shoot() -> None:
        QTimer.singleShot(int(args.settle * 1000), shoot)

    if args.demo:

        def demo_failed(exc: object) -> None:
            sys.stderr.write(f"error: the demo failed: {exc}\n")
            status["code"] = 2

        def connect(worker: Any) -> None:
            worker.signals.errored.connect(demo_failed)
            if args.screenshot:
                worker.signals.done.connect(settle_then_shoot)

        if start_demo(window, args.model, connect) is None and args.screenshot:
            settle_then_shoot()
    elif args.screenshot:
        settle_then_shoot()
    app.exec()
    return status["code"]
