"""Ingestion: token-aware chunks, re-ingestion, PDFs, cancellation, bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from engine.errors import Cancelled, StoreError
from engine.memory.chunking import chunk_text
from engine.memory.embedder import Embedder
from engine.memory.filters import Filter
from engine.memory.ingest import ingest
from engine.memory.store import MemoryStore
from engine.progress import CancelToken, Progress

DATA = Path(__file__).resolve().parents[2] / "data" / "memory" / "corpus"


def test_chunks_respect_token_limit_and_overlap(embedder: Embedder) -> None:
    text = (DATA / "harbour.md").read_text()
    chunks = chunk_text(text, embedder.offsets, max_tokens=60, overlap=12)
    assert len(chunks) >= 5
    for chunk in chunks:
        assert chunk.tokens <= 60
        assert text[chunk.start : chunk.end].strip() == chunk.text
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # overlapping windows
    # a window that can end on a paragraph break does
    assert sum(c.text.endswith(".") for c in chunks[:-1]) >= len(chunks[:-1]) - 1
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_chunk_arguments_are_checked(embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("x", embedder.offsets, max_tokens=10, overlap=10)
    assert chunk_text("", embedder.offsets) == []


def test_ingest_reingest_and_change(store: MemoryStore, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text((DATA / "harbour.md").read_text())
    (folder / "b.py").write_text(
        'def sharpen(knife):\n    """Hone the blade at fifteen degrees."""\n'
    )
    (folder / ".hidden.md").write_text("never ingested")
    (folder / "image.png").write_bytes(b"\x89PNG")
    seen: list[Progress] = []
    first = ingest(store, [folder], progress=seen.append, max_tokens=80, overlap=16)
    assert first.files == 2 and first.skipped == 0
    assert {p.stage for p in seen} >= {"ingest", "embed"}
    again = ingest(store, [folder], max_tokens=80, overlap=16)
    assert again.files == 0 and again.skipped == 2 and again.chunks == 0
    source = str((folder / "a.md").resolve())
    before = {i.id for i in store.items(Filter(source=source))}
    (folder / "a.md").write_text("The harbour is now closed to all boats for repairs.")
    changed = ingest(store, [folder], max_tokens=80, overlap=16)
    assert changed.files == 1 and changed.skipped == 1
    after = store.items(Filter(source=source))
    assert len(after) == 1 and not ({i.id for i in after} & before)
    assert after[0].metadata["path"] == source and after[0].position == 0
    hit = store.search("is the harbour open?", k=1, kinds=["document"])[0]
    assert hit.item.source == source
    assert store.stats()["documents"] == 2 and store.verify() is None


def _pdf(text: str) -> bytes:
    """A minimal one-page PDF with `text` in Helvetica (hand-written objects + xref)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_pdf_is_read_with_pypdf(store: MemoryStore, tmp_path: Path) -> None:
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(_pdf("The boiler pressure must stay between one and two bar."))
    result = ingest(store, [pdf])
    assert result.files == 1 and result.chunks == 1
    hit = store.search("what pressure should the boiler have", k=1)[0]
    assert "boiler pressure" in hit.item.text
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(StoreError, match="not a readable PDF"):
        ingest(store, [broken])


def test_cancel_stops_between_files_and_keeps_whole_files(
    store: MemoryStore, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i}.txt").write_text(f"File {i}. " + f"Some sentence about topic {i}. " * 30)
    token = CancelToken()
    done: list[str] = []

    def progress(p: Progress) -> None:
        if p.stage == "ingest" and p.done == 2:
            token.cancel()
        done.append(p.stage)

    with pytest.raises(Cancelled):
        ingest(store, [folder], progress=progress, cancel=token, max_tokens=64, overlap=8)
    stats = store.stats()
    assert stats["documents"] == 2
    rows = store.conn.execute("SELECT source, chunks FROM documents").fetchall()
    for source, chunks in rows:
        assert len(store.items(Filter(source=source), limit=1000)) == chunks
    resumed = ingest(store, [folder], max_tokens=64, overlap=8)
    assert resumed.files == 4 and resumed.skipped == 2


def test_bad_paths_are_clear_errors(store: MemoryStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        ingest(store, [tmp_path / "missing"])
    odd = tmp_path / "photo.jpg"
    odd.write_bytes(b"\xff\xd8")
    with pytest.raises(StoreError, match=r"cannot ingest \.jpg"):
        ingest(store, [odd])


def test_forget_leaves_documents_unless_asked(store: MemoryStore) -> None:
    ingest(store, [DATA / "workshop.md"], max_tokens=80, overlap=16)
    store.add(["A fresh memory."])
    docs = store.stats()["kinds"]["document"]
    assert docs > 0
    assert store.forget_older_than(-60) == 1  # everything is "older" than the future
    assert store.stats()["kinds"]["document"] == docs
    assert store.forget_older_than(-60, kinds=["document"]) == docs
    assert store.stats()["documents"] == 0
