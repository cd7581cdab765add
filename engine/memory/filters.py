"""Search and delete filters: kind, time window, pinned, source, metadata equality."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.memory.items import check_kind


@dataclass(frozen=True)
class Filter:
    kinds: Sequence[str] | None = None
    since: float | None = None  # created >= since (unix seconds)
    until: float | None = None  # created < until
    pinned: bool | None = None
    source: str | None = None  # exact source path (documents)
    metadata: dict[str, Any] | None = None  # each key equal (JSON values)

    def with_kinds(self, kinds: Sequence[str]) -> Filter:
        return dataclasses.replace(self, kinds=tuple(kinds))

    @property
    def empty(self) -> bool:
        return self.sql()[0] == "1"

    def sql(self) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if self.kinds is not None:
            kinds = [check_kind(k) for k in self.kinds]
            parts.append(f"kind IN ({','.join('?' * len(kinds))})" if kinds else "0")
            params += kinds
        if self.since is not None:
            parts.append("created >= ?")
            params.append(self.since)
        if self.until is not None:
            parts.append("created < ?")
            params.append(self.until)
        if self.pinned is not None:
            parts.append("pinned = ?")
            params.append(int(self.pinned))
        if self.source is not None:
            parts.append("source = ?")
            params.append(self.source)
        for key, value in (self.metadata or {}).items():
            parts.append("json_extract(metadata, ?) = json_extract(?, '$')")
            params += [f'$."{key}"', json.dumps(value)]
        return (" AND ".join(parts) or "1"), params
