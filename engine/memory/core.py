"""`MemoryStore`: one agent's memory. SQLite (WAL) is the truth, FAISS a derived index.

Every write is one SQLite transaction; triggers log it in `changes`. The in-memory FAISS
index then replays the log (`_catch_up`), so this process's writes, another process's
writes and a restart after a crash all take the same path. The index file is saved
atomically now and then and on close; at open it is checked against SQLite (count, ids,
checksum) and a missing, stale or corrupt one is rebuilt with a visible notice.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from engine import paths
from engine.errors import StoreError
from engine.memory.index import IndexCorrupt, VectorIndex, ids_digest
from engine.memory.items import StoreNotice
from engine.memory.locking import file_lock
from engine.memory.schema import connect
from engine.memory.settings import MemorySettings, load_settings
from engine.memory.sqlerrors import translate
from engine.progress import ProgressCallback, Reporter

DB_NAME = "memory.sqlite3"
INDEX_NAME = "index.bin"
_AGENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_BATCH = 900  # SQLite variables per IN (...)

NoticeCallback = Callable[[StoreNotice], None]


def store_folder(agent: str) -> Path:
    if not _AGENT.match(agent):
        raise StoreError(
            f"invalid agent name {agent!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return paths.memory_dir() / agent


class StoreCore:
    """Opening, the change log, the index's life cycle. Operations live in MemoryStore."""

    def __init__(
        self,
        folder: Path,
        embedder: Any = None,
        settings: MemorySettings | None = None,
        on_notice: NoticeCallback | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.settings = settings or load_settings()
        self.notices: list[StoreNotice] = []
        self._on_notice = on_notice
        self._progress = progress
        self._embedder = embedder
        self.conn = connect(self.folder / DB_NAME, self.settings.busy_timeout_s)
        self.index: VectorIndex | None = None
        self._saved_seq = 0
        self._open_index()

    # ------------------------------------------------------------------ basics
    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX_NAME

    def notice(self, message: str) -> None:
        event = StoreNotice(self.name, message)
        self.notices.append(event)
        if self._on_notice is not None:
            self._on_notice(event)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def latest_seq(self) -> int:
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); SQLite errors become StoreErrors."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc, self.folder) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise translate(exc, self.folder) from exc
        except BaseException:
            self._rollback()
            raise

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent view of items and the change log."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def dimension(self) -> int | None:
        stored = self.meta("dimension")
        return int(stored) if stored else None

    # ------------------------------------------------------------------ index life cycle
    def _open_index(self) -> None:
        dim = self.dimension()
        if dim is None:
            return  # nothing was ever added: the index is created with the first vectors
        path = self.index_path
        if not path.exists():
            count = self._count()
            if count:
                self.notice(f"index file missing; rebuilding it from SQLite ({count} items)")
            self.rebuild_index()
            return
        try:
            with file_lock(self.folder):
                self.index, header = VectorIndex.load(path, self.settings)
            self._saved_seq = self.index.seq
        except (IndexCorrupt, OSError) as exc:
            self.notice(f"index file is corrupt ({exc}); rebuilding it from SQLite")
            self.rebuild_index()
            return
        if self.index.dim != dim or header.get("embedder") != self.meta("embedder"):
            self.notice("index was built for another embedder; rebuilding it from SQLite")
            self.rebuild_index()
            return
        self.catch_up()
        problem = self.verify()
        if problem:
            self.notice(f"index disagrees with SQLite ({problem}); rebuilding it from SQLite")
            self.rebuild_index()

    def _count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def verify(self) -> str | None:
        """None when the index holds exactly SQLite's ids, else what differs."""
        self.catch_up()
        ids = np.fromiter((r[0] for r in self.conn.execute("SELECT id FROM items")), dtype=np.int64)
        live = self.index.live_ids() if self.index is not None else np.empty(0, np.int64)
        if len(ids) != len(live):
            return f"{len(live)} indexed vs {len(ids)} stored"
        if ids_digest(ids) != ids_digest(live):
            return "the indexed ids differ from the stored ids"
        return None

    def rebuild_index(self) -> None:
        """Build the index from SQLite's vectors (batches with progress) and save it."""
        report = Reporter(self._progress)
        dim = self.dimension()
        with file_lock(self.folder):
            if dim is None:
                self.index = None
                self.index_path.unlink(missing_ok=True)
                return
            with self.snapshot() as conn:
                seq = self.latest_seq()
                total = self._count()
                ids = np.empty(total, np.int64)
                vectors = np.empty((total, dim), np.float32)
                filled = 0
                for item_id, blob in conn.execute("SELECT id, vector FROM items ORDER BY id"):
                    ids[filled] = item_id
                    vectors[filled] = np.frombuffer(blob, dtype=np.float32)
                    filled += 1
                    if filled % 10_000 == 0:
                        report("read", filled, total, "vectors from SQLite")
            report("index", 0, total, "building")
            index = VectorIndex(dim, self.settings, VectorIndex.kind_for(filled, self.settings))
            step = 20_000
            for start in range(0, filled, step):
                index.add(ids[start : start + step], vectors[start : start + step])
                report("index", min(filled, start + step), total, index.kind)
            index.seq = seq
            self.index = index
            self._save_locked()

    def catch_up(self) -> None:
        """Apply the change log past the index's sequence (this and other processes)."""
        dim = self.dimension()
        if dim is None:
            return
        if self.index is None:
            self.index = VectorIndex(dim, self.settings)
        latest = self.latest_seq()
        if latest == self.index.seq:
            return
        if self.index.seq > latest:
            # The index saw changes SQLite no longer has (its journal was cut or restored
            # from a backup): its vectors cannot be trusted, ids alone would not tell.
            self.notice("index is ahead of the database's change log; rebuilding it from SQLite")
            self.rebuild_index()
            return
        pruned = int(self.meta("pruned_to") or 0)
        if self.index.seq < pruned:
            self._reload_or_rebuild()
            return
        with self.snapshot() as conn:
            rows = conn.execute(
                "SELECT seq, item_id FROM changes WHERE seq > ? ORDER BY seq", (self.index.seq,)
            ).fetchall()
            if not rows:
                return
            touched = sorted({r[1] for r in rows})
            found: list[tuple[int, bytes]] = []
            for start in range(0, len(touched), _BATCH):
                part = touched[start : start + _BATCH]
                marks = ",".join("?" * len(part))
                found += conn.execute(
                    f"SELECT id, vector FROM items WHERE id IN ({marks})", part
                ).fetchall()
        self.index.remove(np.asarray(touched, np.int64))
        if found:
            ids = np.asarray([r[0] for r in found], np.int64)
            vectors = np.stack([np.frombuffer(r[1], np.float32) for r in found])
            self.index.add(ids, vectors)
        self.index.seq = rows[-1][0]
        if self.index.needs_compaction():
            self.rebuild_index()

    def _reload_or_rebuild(self) -> None:
        try:
            with file_lock(self.folder):
                self.index, _ = VectorIndex.load(self.index_path, self.settings)
            self._saved_seq = self.index.seq
        except (IndexCorrupt, OSError) as exc:
            self.notice(f"index file cannot be reloaded ({exc}); rebuilding it from SQLite")
            self.rebuild_index()
            return
        if self.index.seq < int(self.meta("pruned_to") or 0):
            self.notice("index file is older than the change log; rebuilding it from SQLite")
            self.rebuild_index()
        else:
            self.catch_up()

    def maybe_save(self) -> None:
        if self.index is None:
            return
        pending = self.index.seq - self._saved_seq
        if pending >= max(self.settings.persist_every, self.index.live // 4):
            self.save_index()

    def save_index(self) -> None:
        """Catch up, write the index file atomically, prune the replayed change log."""
        if self.index is None:
            return
        with file_lock(self.folder):
            self.catch_up()
            self._save_locked()

    def _save_locked(self) -> None:
        assert self.index is not None
        try:
            self.index.save(self.index_path, self.meta("embedder") or "")
        except OSError as exc:
            self.notice(
                f"could not write the index file ({exc}); the items are safe in SQLite and "
                "the index will be rebuilt or replayed at the next open"
            )
            return
        self._saved_seq = self.index.seq
        try:
            with self.transaction() as conn:
                conn.execute("DELETE FROM changes WHERE seq <= ?", (self.index.seq,))
                pruned = max(int(self.meta("pruned_to") or 0), self.index.seq)
                self._set_meta(conn, "pruned_to", str(pruned))
        except StoreError:
            pass  # pruning is housekeeping: the log is simply kept a little longer

    def close(self) -> None:
        if self.index is not None and self.index.seq != self._saved_seq:
            self.save_index()
        self.conn.close()


def now() -> float:
    return time.time()
