"""Profiling sessions on disk: one versioned JSON file per session in the data home's sessions/.

The format is documented in docs/telemetry.md. Loading checks the format marker and the
version, runs the migrations from older versions in order, and turns anything unreadable
into a `SessionFileError` that says what is wrong with which file.
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
from engine.telemetry.records import EventRecord, SpanRecord, json_safe

FORMAT = "agent-workbench-profile"
VERSION = 1
SUFFIX = ".awprof.json"

#: version n -> a function turning a version-n document into a version n+1 document.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class SessionFileError(WorkbenchError):
    """A profiling session file is missing, corrupt, or from an unknown format version."""


@dataclass
class SampleSeries:
    source: str
    channels: list[dict[str, str]]  # [{"name": ..., "unit": ...}]
    t: list[float]  # seconds since the session start
    values: list[list[float | None]]  # one row per time, one value per channel


@dataclass
class RunRecord:
    index: int
    label: str
    kind: str  # generation | agent | bench
    start: float
    end: float
    events: list[EventRecord]
    spans: list[SpanRecord]
    metrics: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)
    provider: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProfileSession:
    name: str
    created: str  # ISO 8601, UTC
    duration_s: float
    machine: dict[str, Any]
    runs: list[RunRecord]
    samples: list[SampleSeries]
    sampler: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    ort_profile: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        runs = []
        for r in self.runs:
            runs.append(
                {
                    **{k: v for k, v in vars(r).items() if k not in ("events", "spans")},
                    "events": [e.to_dict() for e in r.events],
                    "spans": [s.to_dict() for s in r.spans],
                }
            )
        doc = {k: v for k, v in vars(self).items() if k not in ("path", "runs", "samples")}
        doc["samples"] = [vars(s) for s in self.samples]
        return {"format": FORMAT, "version": VERSION, **json_safe(doc), "runs": json_safe(runs)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProfileSession:
        runs = [
            RunRecord(
                **{k: v for k, v in r.items() if k not in ("events", "spans")},
                events=[EventRecord.from_dict(e) for e in r["events"]],
                spans=[SpanRecord.from_dict(s) for s in r["spans"]],
            )
            for r in d["runs"]
        ]
        fields = {k: v for k, v in d.items() if k not in ("format", "version", "runs", "samples")}
        return cls(**fields, runs=runs, samples=[SampleSeries(**s) for s in d["samples"]])


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "session"


def default_path(session: ProfileSession) -> Path:
    from engine.paths import sessions_dir

    stamp = re.sub(r"[^0-9T]", "", session.created)[:15]
    base = f"{stamp}-{slug(session.name)}"
    path = sessions_dir() / f"{base}{SUFFIX}"
    n = 1
    while path.exists():  # two sessions in the same second never overwrite each other
        n += 1
        path = sessions_dir() / f"{base}-{n}{SUFFIX}"
    return path


def save(session: ProfileSession, path: Path | None = None) -> Path:
    """Write the session (atomically: a half-written file never replaces a good one)."""
    text = json.dumps(session.to_dict(), allow_nan=False)
    try:
        target = Path(path) if path is not None else default_path(session)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        where = path if path is not None else "the data home's sessions/ folder"
        raise SessionFileError(
            f"cannot write the profiling session to {where} ({exc}); "
            "give a writable file with --out"
        ) from exc
    session.path = target
    return target


def resolve(name: str | Path) -> Path:
    """A session by path, or by file name / stem in the data home's sessions/."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    from engine.paths import sessions_dir

    for candidate in (sessions_dir() / str(name), sessions_dir() / f"{name}{SUFFIX}"):
        if candidate.is_file():
            return candidate
    raise SessionFileError(
        f"no profiling session {str(name)!r}: give a file path or a name from "
        "`python main.py profile list`"
    )


def load(name: str | Path) -> ProfileSession:
    path = resolve(name)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionFileError(f"{path} is not readable JSON ({exc}); the file is corrupt") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionFileError(
            f'{path} is not an Agent Workbench profiling session (no "format": "{FORMAT}")'
        )
    doc = migrate(doc, path)
    try:
        session = ProfileSession.from_dict(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise SessionFileError(
            f"{path} is a corrupt profiling session (bad or missing field: {exc})"
        ) from exc
    session.path = path
    return session


def migrate(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """Bring an older document up to `VERSION`, one registered step at a time."""
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise SessionFileError(f"{path} has no valid format version ({version!r}); it is corrupt")
    if version > VERSION:
        raise SessionFileError(
            f"{path} is format version {version}, newer than this Agent Workbench reads "
            f"(up to {VERSION}): update Agent Workbench to open it"
        )
    while version < VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SessionFileError(f"{path} is format version {version} and no migration exists")
        doc = step(doc)
        version += 1
        doc["version"] = version
    return doc


def list_sessions() -> list[dict[str, Any]]:
    """Saved sessions (newest first) with a short summary; unreadable files say why."""
    from engine.paths import sessions_dir

    rows: list[dict[str, Any]] = []
    for path in sorted(sessions_dir().glob(f"*{SUFFIX}"), reverse=True):
        try:
            s = load(path)
        except SessionFileError as exc:
            rows.append({"file": path.name, "path": str(path), "error": str(exc)})
            continue
        rows.append(
            {
                "file": path.name,
                "path": str(path),
                "name": s.name,
                "created": s.created,
                "runs": len(s.runs),
                "duration_s": s.duration_s,
            }
        )
    return rows


def delete(name: str | Path) -> Path:
    path = resolve(name)
    if not path.name.endswith(SUFFIX):
        raise SessionFileError(f"{path} is not a profiling session file (*{SUFFIX}); not deleted")
    path.unlink()
    return path
