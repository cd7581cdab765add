"""Memory browser: ingesting a folder with progress and Cancel, stats, index rebuild."""

from __future__ import annotations

from pathlib import Path

from engine.memory.filters import Filter
from engine.progress import Progress
from tests.helpers.file_dialogs import answer, cancel
from tests.helpers.memory_browser import wait_op

CORPUS = Path(__file__).resolve().parents[2] / "data" / "memory" / "corpus"
SENTENCE = "The {n}th paragraph of file {f} talks about tides, ropes, ovens and lathes in turn. "


def ready(qtbot, make_panel):
    panel = make_panel()
    qtbot.waitUntil(
        lambda: panel.stats.rebuild.isEnabled() and not panel.pages.pending, timeout=60_000
    )
    return panel


def test_ingest_a_folder_with_progress(qtbot, make_panel, notes) -> None:
    panel = ready(qtbot, make_panel)
    seen: list[Progress] = []
    panel.ingest([CORPUS])
    assert not panel.progress.isHidden() and not panel.buttons["folder"].isEnabled()
    panel.ingest_worker.signals.yielded.connect(seen.append)
    with wait_op(qtbot, panel, "ingest", timeout=120_000):
        pass
    assert {p.stage for p in seen} >= {"ingest", "embed"}
    assert seen[-1].stage == "ingest" and seen[-1].done == seen[-1].total == 3
    assert panel.progress.message.text().startswith("3 files, ")
    assert panel.progress.bar.value() == 1000
    qtbot.waitUntil(lambda: panel.buttons["folder"].isEnabled() and not panel.pages.pending)
    qtbot.waitUntil(lambda: "document" in {panel.pages.item(0).kind}, timeout=30_000)
    store = panel.handle.store
    chunks = store.stats()["kinds"]["document"]
    assert chunks >= 3 and panel.pages.total == chunks + len(notes)
    assert panel.pages.item(0).source.endswith(".md")
    panel.query.setText("how are the boats tied up in the harbour?")
    with wait_op(qtbot, panel, "search"):
        panel.run_search()
    assert panel.hits.rows[0].item.source.endswith("harbour.md")
    # again: every file is unchanged, nothing is re-embedded
    panel.ingest([CORPUS])
    with wait_op(qtbot, panel, "ingest", timeout=60_000):
        pass
    assert panel.progress.message.text().startswith("0 files, 0 chunks (3 unchanged)")


def test_cancel_keeps_the_files_finished_before_it(qtbot, make_panel, notes, tmp_path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for f in range(40):
        text = "".join(SENTENCE.format(n=n, f=f) for n in range(60))
        (folder / f"note-{f:02d}.txt").write_text(text, encoding="utf-8")
    panel = ready(qtbot, make_panel)
    panel.ingest([folder])

    def cancel_after_first_file(p: Progress) -> None:
        if p.stage == "ingest" and p.done >= 1:
            panel.progress.cancel.click()

    panel.ingest_worker.signals.yielded.connect(cancel_after_first_file)
    with wait_op(qtbot, panel, "ingest cancelled", timeout=120_000):
        pass
    assert panel.progress.message.text().startswith("cancelled: the files finished")
    assert panel.progress.bar.value() == 0
    store = panel.handle.store
    sources = {i.source for i in store.items(limit=10_000) if i.kind == "document"}
    assert 1 <= len(sources) < 40
    for source in sources:  # each committed file is complete: all of its chunks, once
        rows = store.conn.execute(
            "SELECT chunks FROM documents WHERE source = ?", (source,)
        ).fetchone()
        positions = [i.position for i in store.items(limit=10_000) if i.source == source]
        assert sorted(positions) == list(range(rows[0]))
    assert store.verify() is None
    qtbot.waitUntil(lambda: panel.buttons["files"].isEnabled())


def test_ingest_of_a_missing_path_is_a_readable_error(qtbot, make_panel, notes, messages) -> None:
    panel = ready(qtbot, make_panel)
    panel.ingest([Path("/nonexistent/notes")])
    qtbot.waitUntil(lambda: panel.ingest_worker is None, timeout=30_000)
    assert panel.progress.message.text().startswith("failed: /nonexistent/notes does not exist")
    assert any("give files or folders to ingest" in m.text for m in messages)


def test_stats_show_kinds_index_sizes_and_embedder(qtbot, make_panel, notes, _data_home) -> None:
    panel = ready(qtbot, make_panel)
    text = panel.stats.text()
    assert "items: <b>6</b> (short 0 · long 5 · reflection 1 · document 0); pinned 0" in text
    assert "index: flat (exact inner product) · 6 vectors · 0 dead rows · cpu" in text
    assert "embedder: default-embedder (384-d)" in text
    assert "memory.sqlite3 " in text and "index.bin " in text and "(schema v1)" in text
    # past the HNSW threshold (lowered in settings.toml), a rebuild makes an HNSW index
    settings = _data_home / "settings.toml"
    settings.write_text(settings.read_text() + "hnsw_threshold = 4\n", encoding="utf-8")
    panel.refresh()  # new settings: the store is opened again with them
    assert not panel.stats.rebuild.isEnabled()
    qtbot.waitUntil(lambda: panel.stats.rebuild.isEnabled(), timeout=30_000)
    panel.stats.rebuild.click()
    with wait_op(qtbot, panel, "rebuild", timeout=60_000):
        pass
    assert "index: HNSW · 6 vectors" in panel.stats.text()
    assert panel.progress.message.text() == "index rebuilt"
    assert panel.handle.store.verify() is None


def test_ingest_dialogs_ingest_what_was_chosen_and_cancel_nothing(
    qtbot, make_panel, notes, monkeypatch
) -> None:
    panel = ready(qtbot, make_panel)
    kinds = panel.handle.store.stats()["kinds"]
    files = cancel(monkeypatch, "getOpenFileNames")
    folders = cancel(monkeypatch, "getExistingDirectory")
    panel.buttons["files"].click()
    panel.buttons["folder"].click()
    assert len(files) == len(folders) == 1 and panel.ingest_worker is None
    assert panel.progress.isHidden() and panel.handle.store.stats()["kinds"] == kinds
    answer(monkeypatch, "getOpenFileNames", ([str(CORPUS / "harbour.md")], ""))
    panel.buttons["files"].click()
    with wait_op(qtbot, panel, "ingest", timeout=120_000):
        pass
    assert panel.progress.message.text().startswith("1 files, ")
    sources = {item.source for item in panel.handle.store.items(Filter(kinds=("document",)))}
    assert {Path(s).name for s in sources} == {"harbour.md"}
    answer(monkeypatch, "getExistingDirectory", str(CORPUS))
    qtbot.waitUntil(lambda: panel.buttons["folder"].isEnabled())
    panel.buttons["folder"].click()
    with wait_op(qtbot, panel, "ingest", timeout=120_000):
        pass
    assert panel.progress.message.text().startswith("2 files, ")
    assert "(1 unchanged)" in panel.progress.message.text()
