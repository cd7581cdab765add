"""Versioned JSON documents the workbench saves and reads back: profiling sessions,
evaluation result sets. One kind of document is a `DocumentKind`: its format name and
version, its migrations, its file suffix and folder, and the error it raises.

Writes are atomic (a temporary file beside the target, flushed, then renamed), so a
half-written file never replaces a good one. Reads check the format, refuse a newer
version with a message to update, and migrate an older one step by step.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError

Migration = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class DocumentKind:
    format: str  # the document's "format" field
    version: int  # the version this workbench writes
    suffix: str  # file name ending, e.g. ".awprof.json"
    what: str  # how a person calls it: "profiling session"
    error: type[WorkbenchError]  # raised for every problem with such a file
    folder: Callable[[], Path]  # where they are kept in the data home
    list_command: str  # the command that lists them, for messages
    migrations: dict[int, Migration] = field(default_factory=dict)  # from version N to N+1

    def new_path(self, created: str, name: str) -> Path:
        """A new file in the kind's folder named by its creation time and `name`; two
        documents of the same second never overwrite each other."""
        stamp = re.sub(r"[^0-9T]", "", created)[:15]
        base = f"{stamp}-{slug(name)}"
        try:
            folder = self.folder()
        except OSError as exc:
            raise self.error(
                f"cannot write the {self.what} in the data home ({exc}); give a writable "
                "file with --out"
            ) from exc
        path = folder / f"{base}{self.suffix}"
        n = 1
        while path.exists():
            n += 1
            path = folder / f"{base}-{n}{self.suffix}"
        return path

    def write(self, data: dict[str, Any], target: Path, indent: int | None = None) -> Path:
        """Write `data` to `target` atomically; the kind's error when it cannot."""
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, indent=indent)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            with tmp.open("w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise self.error(
                f"cannot write the {self.what} to {target} ({exc}); give a writable file with --out"
            ) from exc
        return target

    def resolve(self, name: str | Path) -> Path:
        """A document by path, or by file name / stem in the kind's folder."""
        path = Path(name).expanduser()
        if path.is_file():
            return path
        folder = self.folder()
        for candidate in (folder / str(name), folder / f"{name}{self.suffix}"):
            if candidate.is_file():
                return candidate
        raise self.error(
            f"no {self.what} {str(name)!r}: give a file path or a name from "
            f"`python main.py {self.list_command}`"
        )

    def read(self, name: str | Path) -> tuple[Path, dict[str, Any]]:
        """(the file, its document at the current version)."""
        path = self.resolve(name)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.error(f"{path} is not readable JSON ({exc}); the file is corrupt") from exc
        if not isinstance(doc, dict) or doc.get("format") != self.format:
            raise self.error(
                f'{path} is not an Agent Workbench {self.what} (no "format": "{self.format}")'
            )
        return path, self.migrate(doc, path)

    def migrate(self, doc: dict[str, Any], path: Path) -> dict[str, Any]:
        """Bring an older document up to `version`, one registered step at a time."""
        version = doc.get("version")
        if not isinstance(version, int) or version < 1:
            raise self.error(f"{path} has no valid format version ({version!r}); it is corrupt")
        if version > self.version:
            raise self.error(
                f"{path} is format version {version}, newer than this Agent Workbench reads "
                f"(up to {self.version}): update Agent Workbench to open it"
            )
        while version < self.version:
            step = self.migrations.get(version)
            if step is None:
                raise self.error(f"{path} is format version {version} and no migration exists")
            doc = step(doc)
            version += 1
            doc["version"] = version
        return doc

    def corrupt(self, path: Path, exc: Exception) -> WorkbenchError:
        """The error for a document whose fields do not parse."""
        return self.error(f"{path} is a corrupt {self.what} (bad or missing field: {exc})")


def slug(text: str) -> str:
    """`text` as a file-name part: letters, digits, `.`, `_`, `-`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "document"
