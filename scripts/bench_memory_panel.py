"""How the memory browser behaves on a big store: open + first page, next pages, searches,
and the longest stall of the GUI thread meanwhile (a 5 ms timer probe).

    QT_QPA_PLATFORM=offscreen python scripts/bench_memory_panel.py --items 50000 \
        --embedder ~/.cache/agent-workbench-tests/embedder-home/models/default-embedder

The store is built in a temporary data home from real embeddings of a few sentences,
repeated (adding 50k texts through the embedder would take minutes and measure the
embedder, not the panel).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

WORDS = ("printer toner", "harbour tides", "oven timer", "lathe chuck", "vpn port", "tax form")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--embedder", type=Path, required=True)
    parser.add_argument("--searches", type=int, default=10)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="aw-memory-bench-"))
    os.environ["AGENT_WORKBENCH_HOME"] = str(home)
    (home / "settings.toml").write_text(f'[memory]\nembedder = "{args.embedder.resolve()}"\n')

    from PySide6.QtCore import QTimer

    from engine.memory.store import MemoryStore
    from gui.app import create_app
    from gui.context import AppContext
    from gui.panels.memory import QtMemoryBrowser

    t0 = time.perf_counter()
    with MemoryStore.open(agent="big") as store:
        base = store.embed(list(WORDS))
        for start in range(0, args.items, 10_000):
            n = min(10_000, args.items - start)
            texts = [f"note {start + i}: {WORDS[(start + i) % len(WORDS)]}" for i in range(n)]
            vectors = np.asarray([base[(start + i) % len(WORDS)] for i in range(n)], np.float32)
            store.add(texts, vectors=vectors)
        kind = store.stats()["index"]["kind"]
    build_s = time.perf_counter() - t0

    app = create_app()
    ctx = AppContext()
    stalls: list[float] = []
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        stalls.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(probe)
    timer.start(5)

    def until(done: Callable[[], bool]) -> float:
        start = time.perf_counter()
        while not done():
            app.processEvents()
            time.sleep(0.001)
            if time.perf_counter() - start > 300:
                raise SystemExit("error: the panel did not answer within 300 s")
        return time.perf_counter() - start

    t = time.perf_counter()
    panel = QtMemoryBrowser(ctx)  # opening starts in a worker at once
    construct = time.perf_counter() - t
    last[0] = time.perf_counter()
    first = until(lambda: panel.pages.total > 0 and not panel.pages.pending)
    gaps = {"open": stalls[:]}
    stalls.clear()
    pages = []
    for _ in range(5):
        panel.pages.fetchMore()
        pages.append(until(lambda: not panel.pages.pending))
    gaps["pages"] = stalls[:]
    stalls.clear()
    searches = []
    for i in range(args.searches):
        panel.hits.set_hits([])
        panel.query.setText(f"where is the {WORDS[i % len(WORDS)]}?")
        panel.run_search()
        searches.append(until(lambda: len(panel.hits.rows) > 0))
    gaps["search"] = stalls[:]
    result = {
        "items": args.items,
        "index": kind,
        "build_store_s": round(build_s, 1),
        "panel_constructor_ms": round(construct * 1000, 1),
        "open_and_first_page_ms": round((construct + first) * 1000, 1),
        "next_page_ms_median": round(1000 * float(np.median(pages)), 1),
        "search_ms_median": round(1000 * float(np.median(searches)), 1),
        "search_ms_max": round(1000 * max(searches), 1),
        "gui_thread_gap_ms_p99_max": {
            phase: [round(1000 * float(np.percentile(g, 99)), 1), round(1000 * max(g), 1)]
            for phase, g in gaps.items()
            if g
        },
    }
    print(json.dumps(result))
    panel.close_store()
    ctx.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
