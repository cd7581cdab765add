"""Document ingestion: files or folders -> text -> token-aware chunks -> `document` items.

Each file is one SQLite transaction (its old chunks replaced by the new ones), so an
interrupted ingestion leaves every file either fully old or fully new; running it again
skips files whose content hash is already stored. Progress and cancellation per batch.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import StoreError
from engine.memory.chunking import chunk_text
from engine.progress import CancelToken, ProgressCallback, Reporter

if TYPE_CHECKING:
    from engine.memory.store import MemoryStore

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".csv", ".json", ".yaml", ".yml", ".toml"}
CODE_SUFFIXES = {
    ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs",
    ".go", ".rb", ".php", ".cs", ".kt", ".swift", ".sh", ".sql", ".html", ".css", ".lua",
}  # fmt: skip
SUFFIXES = TEXT_SUFFIXES | CODE_SUFFIXES | {".pdf"}


@dataclass
class IngestResult:
    files: int = 0
    skipped: int = 0  # unchanged since the last ingestion
    chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        rate = self.chunks / self.seconds if self.seconds else 0.0
        return {
            "files": self.files,
            "skipped": self.skipped,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "chunks_per_s": round(rate, 1),
        }


def collect(paths: Iterable[Path | str]) -> list[Path]:
    """Files to ingest: given files as they are, folders walked (hidden entries skipped)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise StoreError(f"{path} does not exist: give files or folders to ingest")
        if path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise StoreError(
                    f"{path}: cannot ingest {path.suffix or 'files without a suffix'}; supported: "
                    f"{', '.join(sorted(SUFFIXES))}"
                )
            found.append(path.resolve())
            continue
        for child in sorted(path.rglob("*")):
            rel = child.relative_to(path).parts
            hidden = any(p.startswith(".") for p in rel)
            if child.is_file() and not hidden and child.suffix.lower() in SUFFIXES:
                found.append(child.resolve())
    return list(dict.fromkeys(found))


def read_text(path: Path) -> str:
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(str(path))
            return "\n\n".join((page.extract_text() or "") for page in reader.pages)
        except (PdfReadError, ValueError, OSError) as exc:
            raise StoreError(f"{path} is not a readable PDF ({exc})") from exc
    return path.read_bytes().decode("utf-8", errors="replace")


def ingest(
    store: MemoryStore,
    paths: Sequence[Path | str],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_tokens: int | None = None,
    overlap: int | None = None,
) -> IngestResult:
    report = Reporter(progress, cancel)
    files = collect(paths)
    result = IngestResult()
    started = time.perf_counter()
    size = max_tokens or store.settings.chunk_tokens
    over = store.settings.chunk_overlap if overlap is None else overlap
    embedder = store.embedder
    for number, path in enumerate(files):
        report("ingest", number, len(files), path.name)
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        source = str(path)
        if store.document_hash(source) == digest:
            result.skipped += 1
            continue
        chunks = chunk_text(read_text(path), embedder.offsets, size, over)
        if not chunks:
            result.skipped += 1
            continue
        t0 = time.perf_counter()
        vectors = _embed(store, [c.text for c in chunks], report, path.name)
        result.embed_seconds += time.perf_counter() - t0
        metas = [{"path": source, "start": c.start, "end": c.end} for c in chunks]
        report.cancel.check()
        store.replace_document(
            source,
            digest,
            len(data),
            list(zip([c.text for c in chunks], metas, strict=True)),
            vectors,
        )
        result.files += 1
        result.chunks += len(chunks)
        result.sources.append(source)
    result.seconds = time.perf_counter() - started
    report("ingest", len(files), len(files), f"{result.chunks} chunks")
    return result


def _embed(store: MemoryStore, texts: list[str], report: Reporter, label: str) -> np.ndarray:
    step = 64
    parts = []
    for start in range(0, len(texts), step):
        report("embed", start, len(texts), label)
        parts.append(store.embed(texts[start : start + step]))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
