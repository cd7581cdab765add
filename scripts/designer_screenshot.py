"""Screenshot of the agent designer with a template open and its prompt preview counted,
and time the preview (the computation the designer runs in a worker on each edit).

    AGENT_WORKBENCH_HOME=<home with prepared models> QT_QPA_PLATFORM=offscreen \\
        python scripts/designer_screenshot.py docs/screenshot-designer.png \\
        --template research --model default --tab Agent

Prints one JSON object: the tokenizer used, section tokens, the preview's time (what the
worker runs) and an edit's time on the GUI thread (set, validate, refresh the form).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--template", default="research")
    parser.add_argument("--model", default="default")
    parser.add_argument("--tab", default="Agent")
    parser.add_argument("--size", default="1400x860")
    parser.add_argument("--theme", default="dark", choices=("dark", "light"))
    parser.add_argument(
        "--add-command-tool", action="store_true", help="add a command tool and show its form"
    )
    parser.add_argument(
        "--set", action="append", default=[], help="edit before the shot: planning.max_steps=0"
    )
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QLineEdit

    from engine.agent.templates import TEMPLATES
    from gui.app import create_app
    from gui.context import AppContext
    from gui.panels.designer import QtAgentDesigner
    from gui.panels.prompt_preview import compute
    from gui.theme import apply_theme, load_theme

    app = create_app()
    apply_theme(app, load_theme(args.theme))
    ctx = AppContext()
    folder = Path(tempfile.mkdtemp(prefix="designer-shot-"))
    path = folder / f"{args.template}.agent.yaml"
    shutil.copy(TEMPLATES / f"{args.template}.agent.yaml", path)
    designer = QtAgentDesigner(ctx)
    width, height = (int(v) for v in args.size.split("x"))
    designer.resize(width, height)
    designer.show()
    if not designer.open_file(path):
        print(json.dumps({"error": designer.problems.text()}))
        return 2
    designer.pages.model_name.combo.setCurrentText(args.model)
    if args.add_command_tool:
        from gui.panels.designer_tools import NEW_COMMAND

        designer.tools.append(NEW_COMMAND, "add command tool")
    for edit in args.set:  # through the fields, as typing would
        name, _, value = edit.partition("=")
        field = next(f for f in designer.all_fields() if f.name == name)
        widget = field.edit  # type: ignore[attr-defined]
        if isinstance(widget, QLineEdit):
            widget.setText(value)
            widget.textEdited.emit(value)
        else:
            widget.setPlainText(value)  # JSON editors check on every change
    tabs = designer.pages
    tabs.setCurrentIndex(
        [tabs.tabText(i).replace("&&", "&") for i in range(tabs.count())].index(args.tab)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = designer.preview.result
        ready = result is not None and designer.model.data["model"]["name"] == args.model
        if ready and result is not None and result.tokenizer:
            break
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    designer.grab().save(str(args.output))
    designer.model.undo.setIndex(0)  # back to the file's agent for the timing
    spec = designer.model.spec()
    times = []
    for _ in range(20):
        times.append(compute(spec, folder).seconds * 1000)
    edits = []  # one keystroke on the GUI thread: set -> validate -> refresh every view
    for i in range(50):
        start = time.perf_counter()
        designer.model.set(("name",), f"{spec.name} {i}", merge=True)
        edits.append((time.perf_counter() - start) * 1000)
    result = designer.preview.result
    assert result is not None
    print(
        json.dumps(
            {
                "screenshot": str(args.output),
                "tokenizer": result.tokenizer,
                "context_length": result.preview.context_length,
                "section_tokens": designer.preview.section_tokens(),
                "total_tokens": result.preview.total_tokens,
                "preview_ms_median": round(statistics.median(times), 2),
                "preview_ms_max": round(max(times), 2),
                "edit_ms_median": round(statistics.median(edits), 2),
                "edit_ms_max": round(max(edits), 2),
            }
        )
    )
    ctx.shutdown()
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
