"""Memory settings: index choice, retrieval weights, chunking; `[memory]` in settings.toml."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import StoreError
from engine.manifest import model_folder


@dataclass(frozen=True)
class MemorySettings:
    #: Exact inner product (flat) below this many items, HNSW from here on.
    hnsw_threshold: int = 20_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 96
    #: Rebuild the index when this fraction of its rows are deleted/replaced.
    compact_fraction: float = 0.2
    #: Write the index file after this many changes (SQLite replays the rest at open).
    persist_every: int = 2_000
    #: A filter that matches at most this many items is searched exactly from SQLite.
    exact_filter_limit: int = 20_000
    #: Retrieval: final = relevance + recency_weight * 0.5**(age/half_life) + pinned bonus.
    recency_weight: float = 0.1
    recency_half_life_days: float = 14.0
    pinned_bonus: float = 0.15
    #: Ingestion: chunk size and overlap in embedder tokens.
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    #: Near-duplicate threshold (cosine) for `dedupe`.
    dedupe_cosine: float = 0.97
    #: Seconds a writer waits for another process's transaction before giving up.
    busy_timeout_s: float = 30.0
    #: A prepared embedder: its name in the data home's models/, or a folder path.
    embedder: str = "default-embedder"

    def embedder_folder(self) -> Path:
        """The folder `embedder` names (engine.manifest.model_folder: a name or a path)."""
        return model_folder(self.embedder)

    def replace(self, **changes: Any) -> MemorySettings:
        return dataclasses.replace(self, **changes)


def load_settings() -> MemorySettings:
    """Defaults, overridden by the `[memory]` table of the data home's settings.toml."""
    path = paths.settings_file()
    if not path.is_file():
        return MemorySettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")).get("memory", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StoreError(f"{path} is not valid TOML ({exc}); fix or delete it") from exc
    known = {f.name for f in dataclasses.fields(MemorySettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise StoreError(
            f"{path}: unknown [memory] settings {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return MemorySettings(**data)
