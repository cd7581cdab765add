"""A separate process that works on a memory store, for the reliability tests.

    python -m tests.helpers.memory_worker STORE EMBEDDER MODE [ARGS...]

MODE `ingest FOLDER`: ingest the folder. `add N BATCH TAG [hold]`: add N items in
batches, printing `committed <ids...>` after each commit; `hold` sleeps at the end (so
the WAL is not checkpointed before the test kills it). `fill BATCH`: add until the disk
(or RLIMIT_FSIZE) refuses, then print `FULL <message>` and exit 3.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from engine.errors import StoreFullError
from engine.memory.ingest import ingest
from engine.memory.settings import MemorySettings
from engine.memory.store import MemoryStore
from engine.progress import Progress


def main(argv: list[str]) -> int:
    store_path, embedder, mode, *rest = argv
    persist = 3 if mode == "ingest" else 7
    settings = MemorySettings(embedder=embedder, persist_every=persist)
    store = MemoryStore.open(path=Path(store_path), settings=settings)
    store.embedder.embed(["warm up"])
    print("ready", flush=True)
    if mode == "ingest":
        start = time.monotonic()

        def progress(p: Progress) -> None:
            if p.stage == "ingest":
                print(f"file {p.done:.0f} {time.monotonic() - start:.3f}", flush=True)

        ingest(store, [rest[0]], progress=progress, max_tokens=48, overlap=8)
        print("finished", flush=True)
    elif mode == "add":
        n, batch, tag = int(rest[0]), int(rest[1]), rest[2]
        for start in range(0, n, batch):
            texts = [
                f"{tag} note {i}: item {i} of writer {tag}" for i in range(start, start + batch)
            ]
            ids = store.add(texts)
            print("committed", *ids, flush=True)
        if len(rest) > 3 and rest[3] == "hold":
            print("holding", flush=True)
            time.sleep(600)
    elif mode == "fill":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        batch = int(rest[0])
        i = 0
        try:
            while True:
                texts = [f"filler {i + j}: the quick brown fox, take {i + j}" for j in range(batch)]
                ids = store.add(texts)
                print("committed", *ids, flush=True)
                i += batch
        except StoreFullError as exc:
            print("FULL", exc, flush=True)
            return 3
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
