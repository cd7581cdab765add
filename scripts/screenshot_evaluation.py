"""Open a saved result set in the window's Evaluation panel and save screenshots (docs/gui.md).

    AGENT_WORKBENCH_HOME=<a data home> QT_QPA_PLATFORM=offscreen \
        python scripts/screenshot_evaluation.py RESULT.aweval.json --cell TASK --out docs/x.png

Opens RESULT (e.g. a result set of `eval run`, whose transcripts are still on disk) in the
panel, clicks the cell of TASK (its run as step cards) and saves the panel floated at
--size (OUT) and the whole window (OUT with -window). With --compare OTHER it also
saves the Compare tab, RESULT as A and OTHER as B (OUT with -compare). Exits 2 if the
result set cannot be opened or a screenshot could not be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("result")
    parser.add_argument("--out", required=True)
    parser.add_argument("--cell", default="", help="the task whose first run is clicked")
    parser.add_argument("--compare", default="", help="a second result set: B of Compare")
    parser.add_argument("--theme", choices=["dark", "light"], default="dark")
    parser.add_argument("--size", default="1300x900", help="size of the floated panel")
    args = parser.parse_args()

    from PySide6.QtCore import QTimer

    from gui.app import create_app
    from gui.bridge.messages import install_excepthooks
    from gui.context import AppContext
    from gui.panels.evaluation import QtEvaluation
    from gui.theme import apply_theme
    from gui.window import MainWindow

    app = create_app()
    install_excepthooks()
    ctx = AppContext()
    ctx.set_theme(args.theme)
    apply_theme(app, ctx.theme)  # type: ignore[arg-type]
    window = MainWindow(ctx)
    window.show()
    panel = window.panels["evaluation"]
    assert isinstance(panel, QtEvaluation)
    window.docks["evaluation"].raise_()
    out = Path(args.out)
    status = {"code": 0}

    def grab(widget: object, path: Path) -> None:
        if widget.grab().save(str(path)):  # type: ignore[attr-defined]
            sys.stderr.write(f"screenshot: {path}\n")
        else:
            sys.stderr.write(f"error: could not write {path}\n")
            status["code"] = 2

    def start() -> None:
        result = panel.load_result(args.result)
        if result is None:
            sys.stderr.write(f"error: {panel.status.text()}\n")
            status["code"] = 2
            window.close()
            return
        if result.suite.get("path"):
            panel.set_suite(result.suite["path"])
        if result.variants and result.variants[0].agent.get("path"):
            panel.set_agent(result.variants[0].agent["path"], select=True)
        if args.cell:
            item = panel.results.item(args.cell)
            if item is None:
                sys.stderr.write(f"error: no task {args.cell!r} in the result set\n")
                status["code"] = 2
            else:
                panel.results.open_cell(item.row(), item.column())
        QTimer.singleShot(500, shoot_window)

    def shoot_window() -> None:
        grab(window, out.with_name(out.stem + "-window" + out.suffix))
        width, height = (int(v) for v in args.size.split("x"))
        dock = window.docks["evaluation"]
        dock.setFloating(True)
        dock.resize(width, height)
        QTimer.singleShot(700, shoot_panel)

    def shoot_panel() -> None:
        grab(window.docks["evaluation"], out)
        if args.compare:
            found = panel.compare(f"{args.result}#v0", f"{args.compare}#v0")
            if found is None:
                sys.stderr.write(f"error: {panel.status.text()}\n")
                status["code"] = 2
            panel.tabs.setCurrentWidget(panel.compare_tab)
            QTimer.singleShot(500, shoot_compare)
        else:
            finish()

    def shoot_compare() -> None:
        grab(window.docks["evaluation"], out.with_name(out.stem + "-compare" + out.suffix))
        finish()

    def finish() -> None:
        window.docks["evaluation"].setFloating(False)  # the saved window state keeps it docked
        window.close()

    QTimer.singleShot(300, start)
    app.exec()
    return status["code"]


if __name__ == "__main__":
    raise SystemExit(main())
