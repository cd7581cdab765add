"""Run an agent in the window's run console and save screenshots (docs/gui.md).

    AGENT_WORKBENCH_HOME=<home with the default model> QT_QPA_PLATFORM=offscreen \
        python scripts/screenshot_run_console.py AGENT_FILE --task TEXT --out docs/x.png

Saves the run console panel (OUT) and the whole window (OUT with -window). Exits 2 if
the run did not finish with a final answer or a screenshot could not be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("agent")
    parser.add_argument("--task", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--theme", choices=["dark", "light"], default="dark")
    parser.add_argument("--size", default="1000x900", help="size of the floated run console")
    args = parser.parse_args()

    from PySide6.QtCore import QTimer

    from gui.app import create_app
    from gui.bridge.messages import install_excepthooks
    from gui.context import AppContext
    from gui.panels.run_console import QtRunConsole
    from gui.theme import apply_theme
    from gui.window import MainWindow

    app = create_app()
    install_excepthooks()
    ctx = AppContext()
    ctx.set_theme(args.theme)
    apply_theme(app, ctx.theme)  # type: ignore[arg-type]
    ctx.start()
    window = MainWindow(ctx)
    window.show()
    window.tabifyDockWidget(window.docks["console"], window.docks["run"])
    window.docks["run"].raise_()
    console = window.panels["run"]
    assert isinstance(console, QtRunConsole)
    console.set_agent(Path(args.agent).resolve())
    console.task.setPlainText(args.task)
    out = Path(args.out)
    status = {"code": 0}

    def grab(widget: object, path: Path) -> None:
        if widget.grab().save(str(path)):  # type: ignore[attr-defined]
            sys.stderr.write(f"screenshot: {path}\n")
        else:
            sys.stderr.write(f"error: could not write {path}\n")
            status["code"] = 2

    def shoot() -> None:
        for card in console.cards.cards:  # show what each step did
            card.set_expanded(card.kind != "finish")
        QTimer.singleShot(300, shoot_window)

    def shoot_window() -> None:
        grab(window, out.with_name(out.stem + "-window" + out.suffix))
        width, height = (int(v) for v in args.size.split("x"))
        dock = window.docks["run"]
        dock.setFloating(True)
        dock.resize(width, height)
        QTimer.singleShot(500, shoot_panel)

    def shoot_panel() -> None:
        grab(window.docks["run"], out)
        window.docks["run"].setFloating(False)  # the saved window state keeps it docked
        sys.stderr.write(f"status: {console.status.text()}\n")
        if console.stop_reason != "final_answer":
            status["code"] = 2
        window.close()

    worker = console.run()
    if worker is None:
        sys.stderr.write(f"error: {console.status.text()}\n")
        return 2
    worker.signals.done.connect(lambda: QTimer.singleShot(1500, shoot))
    app.exec()  # type: ignore[attr-defined]
    return status["code"]


if __name__ == "__main__":
    raise SystemExit(main())
