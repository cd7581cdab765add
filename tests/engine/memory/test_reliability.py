"""Crashes, corruption, a full disk and concurrent processes never lose committed items."""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.memory.embedder import Embedder
from engine.memory.settings import MemorySettings
from engine.memory.store import MemoryStore

ROOT = Path(__file__).resolve().parents[3]
FILES = 40
WORDS = [
    "harbour",
    "lantern",
    "granite",
    "orchard",
    "meadow",
    "copper",
    "violin",
    "glacier",
    "market",
    "ferry",
    "canyon",
    "saddle",
    "quarry",
    "thistle",
    "compass",
    "beacon",
    "marble",
    "willow",
    "tunnel",
    "falcon",
    "cedar",
    "pepper",
]


def _worker(store: Path, embedder: Path, *args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.memory_worker", str(store), str(embedder), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[arg-type]
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the worker, reap it and close its pipes."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _committed(stdout: str) -> list[int]:
    ids: list[int] = []
    for line in stdout.splitlines():
        if line.startswith("committed "):
            ids += [int(x) for x in line.split()[1:]]
    return ids


def _check_consistent(store: MemoryStore) -> None:
    """The index holds exactly SQLite's items, each finds itself, no duplicates or halves."""
    assert store.verify() is None
    rows = store.conn.execute("SELECT id, vector FROM items ORDER BY id").fetchall()
    if rows:
        ids = np.asarray([r[0] for r in rows])
        vectors = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
        assert store.index is not None
        _, found = store.index.search(vectors, 1)
        assert (found[:, 0] == ids).all()
    dupes = store.conn.execute(
        "SELECT COUNT(*) FROM (SELECT source, position FROM items WHERE source IS NOT NULL "
        "GROUP BY source, position HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    assert dupes == 0
    for source, chunks in store.conn.execute("SELECT source, chunks FROM documents").fetchall():
        n = store.conn.execute("SELECT COUNT(*) FROM items WHERE source = ?", (source,)).fetchone()
        assert n[0] == chunks  # a file is all new chunks or all old, never half
    orphans = store.conn.execute(
        "SELECT COUNT(*) FROM items WHERE source IS NOT NULL "
        "AND source NOT IN (SELECT source FROM documents)"
    ).fetchone()[0]
    assert orphans == 0


def _corpus(folder: Path, files: int) -> None:
    rng = random.Random(7)
    folder.mkdir()
    for f in range(files):
        paragraphs = []
        for p in range(4):
            words = " ".join(rng.choice(WORDS) for _ in range(30))
            paragraphs.append(f"File {f} paragraph {p}. {words}.")
        (folder / f"doc{f:03d}.txt").write_text("\n\n".join(paragraphs))


def test_sigkill_during_ingestion_many_times(
    tmp_path: Path, default_embedder: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    folder = tmp_path / "corpus"
    _corpus(folder, FILES)  # 4 paragraphs, ~5 chunks per file
    store_path = tmp_path / "store"
    rng = random.Random(1234)
    seen_counts = [0]
    interrupted = 0
    for _ in range(8):
        if seen_counts[-1] >= FILES:
            break
        proc = _worker(store_path, default_embedder, "ingest", str(folder))
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        # Let it commit at least one new file, then kill at a random point after that:
        # while embedding, inside a transaction, while saving the index, between files.
        # (Small steps: on a quiet machine ~7 files commit per second.)
        started = seen_counts[-1] + 1 + rng.randrange(2)
        for line in proc.stdout:
            if line.startswith("file ") and int(line.split()[1]) >= started:
                break
        time.sleep(rng.uniform(0.0, 0.15))  # the random kill point is what is tested
        _kill(proc)
        notices: list[str] = []
        with MemoryStore.open(
            path=store_path,
            embedder=embedder,
            settings=settings,
            on_notice=lambda n, seen=notices: seen.append(n.message),
        ) as store:
            _check_consistent(store)
            seen_counts.append(store.stats()["documents"])
            print("after kill:", seen_counts[-1], "files;", notices)
        interrupted += seen_counts[-1] < FILES
    proc = _worker(store_path, default_embedder, "ingest", str(folder))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with MemoryStore.open(path=store_path, embedder=embedder, settings=settings) as store:
        _check_consistent(store)
        assert store.stats()["documents"] == FILES
    assert seen_counts == sorted(seen_counts)  # no loss
    assert len(set(seen_counts)) == len(seen_counts)  # each run got further
    assert interrupted >= 5  # most kills really landed in the middle of the ingestion


def test_corrupt_truncated_missing_and_stale_index(
    tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    path = tmp_path / "s"
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        ids = store.add([f"Fact number {i} about the {w}." for i, w in enumerate(WORDS)])
    index = path / "index.bin"
    good = index.read_bytes()

    def reopen() -> list[str]:
        notices: list[str] = []
        with MemoryStore.open(
            path=path,
            embedder=embedder,
            settings=settings,
            on_notice=lambda n: notices.append(n.message),
        ) as store:
            _check_consistent(store)
            assert store.search("Fact number 3 about the orchard", k=1)[0].item.id == ids[3]
        return notices

    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0xFF
    index.write_bytes(bytes(flipped))
    assert any("corrupt" in n and "checksum" in n for n in reopen())
    index.write_bytes(good[: len(good) // 3])
    assert any("corrupt" in n for n in reopen())
    index.write_bytes(b"not an index at all")
    assert any("corrupt" in n for n in reopen())
    # a crash while writing the index leaves a half temp file beside a good index
    (path / "index.bin.tmp").write_bytes(good[:100])
    assert reopen() == []
    index.unlink()
    assert any("missing" in n for n in reopen())
    old = index.read_bytes()
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        store.add(["A late addition about the beacon."])
    index.write_bytes(old)  # an index from before the last save: the log was pruned since
    assert any("older than the change log" in n for n in reopen())
    assert reopen() == []  # healed: the next open is quiet


def test_truncated_wal_keeps_checkpointed_items(
    tmp_path: Path, default_embedder: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    path = tmp_path / "s"
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        early = store.add([f"Early checkpointed fact {i}." for i in range(30)])
    assert (
        not (path / "memory.sqlite3-wal").exists()
        or (path / "memory.sqlite3-wal").stat().st_size == 0
    )
    proc = _worker(path, default_embedder, "add", "60", "10", "late", "hold")
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("holding"):
            break
    _kill(proc)
    wal = path / "memory.sqlite3-wal"
    size = wal.stat().st_size
    assert size > 0
    with open(wal, "r+b") as fh:
        fh.truncate(size // 2 + 123)
    notices: list[str] = []
    with MemoryStore.open(
        path=path,
        embedder=embedder,
        settings=settings,
        on_notice=lambda n: notices.append(n.message),
    ) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        _check_consistent(store)
        have = {i.id for i in store.items(limit=1000)}
        assert set(early) <= have
        late = _committed("".join(lines))
        assert len(late) == 60 and 30 <= len(have) < 90  # the cut frames are gone, cleanly


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_disk_full_is_a_clear_error_and_loses_nothing(
    tmp_path: Path, default_embedder: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    path = tmp_path / "s"
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        before = store.add(["Saved before the disk filled up."])
    proc = _worker(
        path, default_embedder, "fill", "25", preexec_fn=lambda: _limit_file_size(600_000)
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    full = [line for line in out.splitlines() if line.startswith("FULL")]
    print(full, len(_committed(out)))
    assert full and "disk is full or a file-size limit" in full[0]
    assert "everything saved before is intact" in full[0]
    committed = _committed(out)
    assert len(committed) >= 25
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        _check_consistent(store)
        have = {i.id for i in store.items(limit=100_000)}
        assert have == set(before) | set(committed)  # the refused batch left no trace
        extra = store.add(["Space was freed; writing works again."])
        assert store.search("was space freed?", k=1)[0].item.id == extra[0]


def test_two_processes_write_one_store(
    tmp_path: Path, default_embedder: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    path = tmp_path / "s"
    MemoryStore.open(path=path, embedder=embedder, settings=settings).close()
    a = _worker(path, default_embedder, "add", "120", "10", "alpha")
    b = _worker(path, default_embedder, "add", "120", "10", "beta")
    out_a, err_a = a.communicate(timeout=180)
    out_b, err_b = b.communicate(timeout=180)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    ids_a, ids_b = _committed(out_a), _committed(out_b)
    assert len(ids_a) == len(ids_b) == 120 and not set(ids_a) & set(ids_b)
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        _check_consistent(store)
        assert store.stats()["items"] == 240
        hit = store.search("beta note 77: item 77 of writer beta", k=1)[0]
        assert hit.item.text == "beta note 77: item 77 of writer beta"


@pytest.mark.skipif(os.name != "posix", reason="fcntl locks")
def test_index_lock_is_reentrant(tmp_path: Path) -> None:
    from engine.memory.locking import file_lock

    with file_lock(tmp_path), file_lock(tmp_path):
        assert (tmp_path / ".index.lock").exists()


def test_an_index_ahead_of_the_database_is_rebuilt(
    tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    """A database restored from an older copy: same ids, older vectors; the index is newer."""
    import shutil

    path = tmp_path / "s"
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        ids = store.add(["The spare key is under the blue flowerpot."])
    shutil.copy(path / "memory.sqlite3", tmp_path / "backup.sqlite3")
    with MemoryStore.open(path=path, embedder=embedder, settings=settings) as store:
        store.update_text(ids[0], "The spare key is with the neighbour at number 12.")
    shutil.copy(tmp_path / "backup.sqlite3", path / "memory.sqlite3")  # the index stays newer
    notices: list[str] = []
    with MemoryStore.open(
        path=path,
        embedder=embedder,
        settings=settings,
        on_notice=lambda n: notices.append(n.message),
    ) as store:
        assert any("ahead of the database" in n for n in notices)
        _check_consistent(store)
        hit = store.search("where is the spare key?", k=1)[0]
        assert "flowerpot" in hit.item.text and hit.score > 0.5
