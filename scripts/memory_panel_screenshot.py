"""Screenshot of the memory browser on a real store (for docs/gui.md).

    QT_QPA_PLATFORM=offscreen python scripts/memory_panel_screenshot.py docs/screenshot-memory.png \
        --embedder ~/.cache/agent-workbench-tests/embedder-home/models/default-embedder

Builds a store `notes-keeper` in a temporary data home (a few long-term facts, a lesson,
a pinned preference, the three test-corpus documents ingested with the real embedder),
opens the panel on it, runs a search and selects the best hit, then saves the panel.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "memory" / "corpus"

FACTS = [
    "The user prefers metric units for every measurement.",
    "The staging server is rebooted every Sunday at 03:00 UTC.",
    "Alice is allergic to peanuts and avoids Thai restaurants.",
    "Our VPN uses WireGuard on port 51820.",
    "Task: when is the harbour crane inspected?\nAnswer: every first Monday of the month.",
]
LESSONS = ["Lesson: read the harbour notes before answering questions about boats."]
QUERY = "how are the boats tied up in the harbour?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--embedder", type=Path, required=True, help="a prepared embedder folder")
    parser.add_argument("--theme", default="dark", choices=("dark", "light"))
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="aw-memory-shot-"))
    os.environ["AGENT_WORKBENCH_HOME"] = str(home)
    (home / "settings.toml").write_text(f'[memory]\nembedder = "{args.embedder.resolve()}"\n')

    from engine.memory.ingest import ingest
    from engine.memory.store import MemoryStore
    from gui.app import create_app
    from gui.context import AppContext
    from gui.panels.memory import QtMemoryBrowser
    from gui.theme import apply_theme, load_theme

    with MemoryStore.open(agent="notes-keeper") as store:
        ingest(store, [CORPUS], max_tokens=80)
        week = time.time() - 7 * 86400
        store.add(FACTS, kind="long", created=[week + 3600 * i for i in range(len(FACTS))])
        store.add(LESSONS, kind="reflection")
        store.add(["The user wants answers in English, short."], kind="long", pinned=True)
    app = create_app()
    ctx = AppContext()
    apply_theme(app, load_theme(args.theme))
    panel = QtMemoryBrowser(ctx)
    panel.resize(1100, 820)
    panel.show()
    wait(app, lambda: panel.pages.total > 0 and not panel.pages.pending)
    panel.query.setText(QUERY)
    panel.run_search()
    wait(app, lambda: panel.model is panel.hits)
    panel.table.selectRow(1)  # a document chunk: its source and offsets show
    wait(app, lambda: "Index" not in panel.stats.lines["index"].text(), 0.5)
    panel.grab().save(str(args.out))
    sys.stderr.write(f"screenshot: {args.out}\n")
    panel.close_store()
    ctx.shutdown()
    del app
    return 0


def wait(app: object, done: object, at_least: float = 0.0) -> None:
    start = time.monotonic()
    while not done() or time.monotonic() - start < at_least:  # type: ignore[operator]
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)
        if time.monotonic() - start > 60:
            raise SystemExit("error: the panel did not get ready within 60 s")


if __name__ == "__main__":
    raise SystemExit(main())
