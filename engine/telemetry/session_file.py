"""Profiling sessions on disk: one versioned JSON file per session in the data home's sessions/.

The format is documented in docs/telemetry.md. Loading checks the format marker and the
version, runs the migrations from older versions in order, and turns anything unreadable
into a `SessionFileError` that says what is wrong with which file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.documents import DocumentKind, Migration
from engine.errors import WorkbenchError
from engine.paths import sessions_dir
from engine.telemetry.records import EventRecord, SpanRecord, json_safe


class SessionFileError(WorkbenchError):
    """A profiling session file is missing, corrupt, or from an unknown format version."""


#: version n -> a function turning a version-n document into a version n+1 document.
MIGRATIONS: dict[int, Migration] = {}
KIND = DocumentKind(
    format="agent-workbench-profile",
    version=1,
    suffix=".awprof.json",
    what="profiling session",
    error=SessionFileError,
    folder=sessions_dir,
    list_command="profile list",
    migrations=MIGRATIONS,
)
FORMAT, VERSION, SUFFIX = KIND.format, KIND.version, KIND.suffix


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


def default_path(session: ProfileSession) -> Path:
    return KIND.new_path(session.created, session.name)


def save(session: ProfileSession, path: Path | None = None) -> Path:
    """Write the session (atomically: a half-written file never replaces a good one)."""
    target = KIND.write(
        session.to_dict(), Path(path) if path is not None else default_path(session)
    )
    session.path = target
    return target


def resolve(name: str | Path) -> Path:
    """A session by path, or by file name / stem in the data home's sessions/."""
    return KIND.resolve(name)


def load(name: str | Path) -> ProfileSession:
    path, doc = KIND.read(name)
    try:
        session = ProfileSession.from_dict(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise KIND.corrupt(path, exc) from exc
    session.path = path
    return session


def list_sessions() -> list[dict[str, Any]]:
    """Saved sessions (newest first) with a short summary; unreadable files say why."""
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
