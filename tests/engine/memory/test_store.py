"""MemoryStore operations on the real embedder, SQLite and FAISS."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import StoreError
from engine.memory.embedder import Embedder
from engine.memory.filters import Filter
from engine.memory.schema import SCHEMA_VERSION
from engine.memory.settings import MemorySettings
from engine.memory.store import MemoryStore

FACTS = [
    "The user prefers metric units for every measurement.",
    "The staging server is rebooted every Sunday at 03:00 UTC.",
    "Alice is allergic to peanuts and avoids Thai restaurants.",
    "The quarterly report is due on the fifth working day of the quarter.",
    "Our VPN uses WireGuard on port 51820.",
]


def test_add_search_get(store: MemoryStore) -> None:
    ids = store.add(FACTS, kind="long", metadata={"topic": "facts"})
    assert ids == sorted(ids) and len(ids) == 5
    hits = store.search("which port does the VPN listen on?", k=3)
    assert hits[0].item.id == ids[4] and hits[0].item.kind == "long"
    assert hits[0].score > hits[1].score >= hits[2].score
    assert -1.0 <= hits[-1].score <= 1.0
    item = store.get(ids[0])
    assert item is not None and item.text == FACTS[0] and item.metadata == {"topic": "facts"}
    assert store.get(99999) is None


def test_filters_by_kind_time_metadata_pinned(store: MemoryStore) -> None:
    old = time.time() - 40 * 86400
    a = store.add(["Remember: the build uses Python 3.11."], kind="long", created=[old])[0]
    b = store.add(["Lesson: check the build's Python version first."], kind="reflection")[0]
    c = store.add(["Thought: look up the Python version."], kind="short", metadata={"run": "r1"})[0]
    query = "which Python version does the build use"
    assert {h.item.id for h in store.search(query, k=5)} == {a, b, c}
    assert [h.item.id for h in store.search(query, k=5, kinds=["reflection"])] == [b]
    recent = store.search(query, k=5, where=Filter(since=time.time() - 86400))
    assert {h.item.id for h in recent} == {b, c}
    assert [h.item.id for h in store.search(query, where=Filter(metadata={"run": "r1"}))] == [c]
    store.pin(a)
    assert [h.item.id for h in store.search(query, where=Filter(pinned=True))] == [a]
    with pytest.raises(StoreError, match="unknown memory kind"):
        store.search(query, kinds=["episodic"])


def test_update_reembeds_delete_pin_forget(store: MemoryStore) -> None:
    ids = store.add(FACTS)
    store.update_text(ids[1], "The production database is backed up hourly.")
    assert store.search("how often are backups taken", k=1)[0].item.id == ids[1]
    assert store.delete([ids[0], 424242]) == 1
    assert store.get(ids[0]) is None
    assert ids[0] not in [h.item.id for h in store.search(FACTS[0], k=5)]
    store.pin(ids[2])
    old = time.time() - 10 * 86400
    stale = store.add(["An old scratchpad thought."], kind="short", created=[old])
    pinned_old = store.add(["A pinned old lesson."], kind="reflection", created=[old], pinned=True)
    assert store.forget_older_than(5 * 86400) == 1
    assert store.get(stale[0]) is None and store.get(pinned_old[0]) is not None
    assert store.verify() is None
    with pytest.raises(StoreError, match="no memory item"):
        store.update_text(424242, "x")
    with pytest.raises(StoreError, match="needs some text"):
        store.add(["  "])


def test_dedupe_keeps_pinned_then_oldest(store: MemoryStore) -> None:
    first = store.add(["The meeting moved to Thursday at 10."])[0]
    dup = store.add(["The meeting was moved to Thursday at 10."])[0]  # cosine 0.99
    other_kind = store.add(["The meeting moved to Thursday at 10."], kind="short")[0]
    keep = store.add(["Bananas are rich in potassium."])[0]
    assert store.dedupe() == [dup]
    assert {i.id for i in store.items()} == {first, other_kind, keep}


def test_stats_and_schema(store: MemoryStore) -> None:
    store.add(FACTS[:2])
    store.add(["a lesson"], kind="reflection")
    stats = store.stats()
    assert stats["items"] == 3 and stats["kinds"]["long"] == 2 and stats["kinds"]["reflection"] == 1
    assert stats["schema_version"] == SCHEMA_VERSION and stats["embedder"] == "default-embedder"
    assert stats["index"]["kind"] == "flat" and stats["index"]["device"] == "cpu"
    journal = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"
    versions = store.conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert versions == [(SCHEMA_VERSION,)]


def test_newer_schema_is_refused(
    tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    MemoryStore.open(path=tmp_path / "s", embedder=embedder, settings=settings).close()
    conn = sqlite3.connect(tmp_path / "s" / "memory.sqlite3")
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'later')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this workbench"):
        MemoryStore.open(path=tmp_path / "s", embedder=embedder, settings=settings)


def test_hnsw_past_threshold_and_compaction(
    tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    small = settings.replace(hnsw_threshold=60, compact_fraction=0.2)
    with MemoryStore.open(path=tmp_path / "s", embedder=embedder, settings=small) as store:
        texts = [
            f"Note {i}: the parcel number {i} was delivered to dock {i % 7}." for i in range(80)
        ]
        ids = store.add(texts[:50])
        assert store.index is not None and store.index.kind == "flat"
        ids += store.add(texts[50:])
        assert store.index.kind == "hnsw" and store.index.live == 80
        for i in (3, 55, 79):
            assert store.search(texts[i], k=1)[0].item.id == ids[i]
        store.delete(ids[:10])
        assert store.index.dead == 10
        store.delete(ids[10:30])
        assert store.index.dead == 0 and store.index.live == 50  # compacted
    with MemoryStore.open(path=tmp_path / "s", embedder=embedder, settings=small) as again:
        assert again.notices == [] and again.index is not None and again.index.kind == "flat"
        assert again.verify() is None


def test_export_import_roundtrip(
    store: MemoryStore, tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    store.add(FACTS[:3], metadata={"src": "chat"})
    store.add(["pinned lesson"], kind="reflection", pinned=True)
    path = tmp_path / "mem.jsonl"
    assert store.export_jsonl(path) == 4
    with MemoryStore.open(path=tmp_path / "copy", embedder=embedder, settings=settings) as copy:
        assert copy.import_jsonl(path) == 4
        assert copy.import_jsonl(path) == 0  # idempotent
        got = {(i.kind, i.text, i.pinned, i.created) for i in copy.items()}
        want = {(i.kind, i.text, i.pinned, i.created) for i in store.items()}
        assert got == want
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "something else"}\n')
    with pytest.raises(StoreError, match="not a memory export"):
        store.import_jsonl(bad)


def test_agent_names_and_open_by_agent(embedder: Embedder, settings: MemorySettings) -> None:
    from engine import paths

    with MemoryStore.open(agent="helper-1", embedder=embedder, settings=settings) as store:
        store.add(["hello"])
    assert (paths.memory_dir() / "helper-1" / "memory.sqlite3").is_file()
    with pytest.raises(StoreError, match="invalid agent name"):
        MemoryStore.open(agent="../escape", embedder=embedder, settings=settings)


def test_vectors_from_another_embedder_are_refused(store: MemoryStore) -> None:
    store.add(["x"])
    with store.transaction() as conn:
        store._set_meta(conn, "embedder", "some-other-model")
    with pytest.raises(StoreError, match="rebuild --reembed"):
        store.search("x")
    store.rebuild(reembed=True)
    assert store.meta("embedder") == "default-embedder"
    assert store.search("x", k=1)[0].score == pytest.approx(1.0, abs=1e-4)


def test_two_handles_see_each_other(
    tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    one = MemoryStore.open(path=tmp_path / "s", embedder=embedder, settings=settings)
    two = MemoryStore.open(path=tmp_path / "s", embedder=embedder, settings=settings)
    a = one.add(["The red kite nests in tall oaks."])[0]
    assert two.search("where does the kite nest", k=1)[0].item.id == a
    two.delete([a])
    assert one.search("where does the kite nest", k=1) == []
    one.close()
    two.close()
    vec = np.zeros(384, np.float32)
    with MemoryStore.open(path=tmp_path / "s", embedder=embedder, settings=settings) as three:
        assert three.search(vec, k=3) == [] and three.verify() is None


def test_a_store_can_be_used_from_another_thread(store: MemoryStore) -> None:
    import threading

    found: list[int] = []
    ids = store.add(["The kettle is in the left cupboard."])

    def worker() -> None:
        found.extend(h.item.id for h in store.search("where is the kettle", k=1))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert found == ids


def test_dedupe_through_the_index_on_large_stores(
    tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    """Past `exact_filter_limit` items dedupe asks the index for neighbours, not all pairs."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(600, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[510] = vectors[5]  # an exact duplicate, added later
    small = settings.replace(exact_filter_limit=100, hnsw_threshold=200)
    with MemoryStore.open(path=tmp_path / "big", embedder=embedder, settings=small) as store:
        ids = store.add([f"item {i}" for i in range(600)], vectors=vectors)
        assert store.index is not None and store.index.kind == "hnsw"
        assert store.dedupe() == [ids[510]]


def test_a_corrupt_database_or_settings_file_is_a_clear_error(
    tmp_path: Path, embedder: Embedder, settings: MemorySettings
) -> None:
    from engine import paths
    from engine.memory.settings import load_settings

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "memory.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is damaged or is not an Agent Workbench memory store"):
        MemoryStore.open(path=folder, embedder=embedder, settings=settings)
    assert (folder / "memory.sqlite3").read_bytes().startswith(b"this is not")  # untouched
    paths.settings_file().write_text("[memory\nbroken")
    with pytest.raises(StoreError, match="not valid TOML"):
        load_settings()
    paths.settings_file().write_text("[memory]\nhnsw_threshold = 5000\n")
    assert load_settings().hnsw_threshold == 5000
