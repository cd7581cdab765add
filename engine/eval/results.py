"""Result sets on disk: one versioned JSON file per suite run in the data home's evals/.

A result set holds the suite (path, name, sha256, task ids), the variants it ran (agent
file and its sha256, model, quantization, provider) and one record per task run (checks
with reasons, answer, steps, tool calls, tokens, TTFT, latency, transcript). It is saved
after every task run (atomically: a temporary file renamed over the old one), so an
interrupted suite keeps what finished and `eval run --resume` goes on from there.
Loading checks the format marker and version and runs migrations, like profiling
sessions (engine.telemetry.session_file); the format is in docs/evaluation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.documents import DocumentKind, Migration
from engine.errors import WorkbenchError
from engine.eval.stats import summary

#: running: being written (or its process died: then `eval run --resume` finishes it);
#: cancelled: stopped by the person; complete: every task run is in.
STATUSES = ("running", "cancelled", "complete")


class ResultFileError(WorkbenchError):
    """A result set is missing, corrupt, or from an unknown format version."""


def evals_dir() -> Path:
    from engine.paths import data_home

    folder = data_home() / "evals"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


#: version n -> a function turning a version-n document into a version n+1 document.
MIGRATIONS: dict[int, Migration] = {}
KIND = DocumentKind(
    format="agent-workbench-eval",
    version=1,
    suffix=".aweval.json",
    what="result set",
    error=ResultFileError,
    folder=evals_dir,
    list_command="eval list",
    migrations=MIGRATIONS,
)
FORMAT, VERSION, SUFFIX = KIND.format, KIND.version, KIND.suffix


@dataclass
class Variant:
    """One column of a matrix run: an agent file on a model, quantization and provider."""

    key: str  # "v0", "v1", ... in the order they ran
    label: str
    agent: dict[str, Any]  # {"path", "name", "sha256"}
    model: dict[str, Any]  # {"name", "folder", "quantization", "manifest_hash", "provider"}
    provider: str | None = None  # the provider asked for (None: the agent file's)


@dataclass
class ResultSet:
    name: str
    created: str  # ISO 8601, UTC
    suite: dict[str, Any]  # {"path", "name", "sha256", "repeat", "tasks": [ids]}
    variants: list[Variant]
    runs: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"
    options: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    finished: str | None = None
    path: Path | None = None

    @property
    def repeat(self) -> int:
        return int(self.suite.get("repeat", 1))

    @property
    def total_runs(self) -> int:
        return len(self.variants) * len(self.suite["tasks"]) * self.repeat

    def variant(self, ref: str | int) -> Variant:
        for i, v in enumerate(self.variants):
            if str(ref) in (v.key, str(i)):
                return v
        keys = ", ".join(f"{i} ({v.label})" for i, v in enumerate(self.variants))
        raise ResultFileError(f"{self.name}: no variant {ref!r}; variants: {keys}")

    def runs_of(self, variant: Variant) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["variant"] == variant.key]

    def done(self) -> set[tuple[str, str, int]]:
        return {(r["variant"], r["task"], r["repeat"]) for r in self.runs}

    def summary(self, variant: Variant) -> dict[str, Any]:
        return summary(self.runs_of(variant), self.repeat)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "created": self.created,
            "finished": self.finished,
            "status": self.status,
            "suite": self.suite,
            "options": self.options,
            "machine": self.machine,
            "variants": [vars(v) for v in self.variants],
            "summaries": {v.key: self.summary(v) for v in self.variants},
            "runs": self.runs,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultSet:
        return cls(
            name=d["name"],
            created=d["created"],
            suite=d["suite"],
            variants=[Variant(**v) for v in d["variants"]],
            runs=list(d["runs"]),
            status=d["status"],
            options=d.get("options", {}),
            machine=d.get("machine", {}),
            finished=d.get("finished"),
        )


def default_path(result: ResultSet) -> Path:
    return KIND.new_path(result.created, result.suite["name"])


def save(result: ResultSet, path: Path | None = None) -> Path:
    """Write the result set atomically (a half-written file never replaces a good one)."""
    target = Path(path) if path is not None else (result.path or default_path(result))
    KIND.write(result.to_dict(), target, indent=1)
    result.path = target
    return target


def resolve(name: str | Path) -> Path:
    """A result set by path, or by file name / stem in the data home's evals/."""
    return KIND.resolve(name)


def load(name: str | Path) -> ResultSet:
    path, doc = KIND.read(name)
    try:
        result = ResultSet.from_dict(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise KIND.corrupt(path, exc) from exc
    result.path = path
    return result


def list_results() -> list[dict[str, Any]]:
    """Saved result sets (newest first) with their summaries; unreadable files say why."""
    rows: list[dict[str, Any]] = []
    for path in sorted(evals_dir().glob(f"*{SUFFIX}"), reverse=True):
        try:
            r = load(path)
        except ResultFileError as exc:
            rows.append({"file": path.name, "path": str(path), "error": str(exc)})
            continue
        rows.append(
            {
                "file": path.name,
                "path": str(path),
                "suite": r.suite["name"],
                "created": r.created,
                "status": r.status,
                "runs": f"{len(r.runs)}/{r.total_runs}",
                "variants": [
                    {"label": v.label, "pass_rate": r.summary(v)["pass_rate"]} for v in r.variants
                ],
            }
        )
    return rows
