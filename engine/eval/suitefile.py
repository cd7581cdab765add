"""Load and validate `*.suite.yaml` files: tasks for an agent and the checks of each answer.

    suite = load("arithmetic.suite.yaml")      # SuiteFileError names file, line and field
    for task in suite.tasks: task.id, task.input, task.checks, task.workspace

The format is documented in docs/evaluation.md; its JSON Schema is
engine/resources/schemas/suite.schema.json. Paths in a suite (`agent`, `workspace`) are
relative to the suite file. The YAML is read by the bounded loader (engine.yamlsafe:
size, aliases and nesting are limited before anything is expanded).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from engine import schema_problems, yamlsafe
from engine.agent.agentfile import _lines, plain
from engine.errors import WorkbenchError
from engine.paths import resource
from engine.schema_problems import Problem

SCHEMA_PATH = resource("schemas", "suite.schema.json")
SCHEMA_VERSION = 1
SUFFIX = ".suite.yaml"
#: Largest suite file read (bytes): a suite is text a person writes, not a data dump.
MAX_BYTES = 1_000_000
CHECK_KINDS = (
    "number",
    "contains",
    "not_contains",
    "regex",
    "equals",
    "json_schema",
    "tool_used",
    "tool_sequence",
    "tool_args",
    "max_steps",
    "max_latency_ms",
    "max_tokens",
    "judge",
)


class SuiteFileError(WorkbenchError):
    """A suite file cannot be read or is invalid."""


@dataclass(frozen=True)
class Check:
    """One expectation of a task: `kind` (one of CHECK_KINDS) and its options, normalised
    (`number` -> {"value", "tolerance", "relative"}, text checks -> {"text",
    "case_sensitive"}, `regex` -> {"pattern", "case_sensitive"}, `judge` -> {"rubric",
    "model"}, the others -> {"value"})."""

    kind: str
    options: dict[str, Any] = field(hash=False, compare=True)

    @property
    def label(self) -> str:
        """`contains "8080"`: the check as the suite file says it."""
        o = self.options
        if self.kind == "number":
            rel = " of it" if o["relative"] else ""
            tol = f" ± {o['tolerance']}{rel}" if o["tolerance"] else ""
            return f"number {o['value']}{tol}"
        if self.kind in ("contains", "not_contains", "equals"):
            return f"{self.kind} {json.dumps(o['text'], ensure_ascii=False)}"
        if self.kind == "regex":
            return f"regex {o['pattern']}"
        if self.kind == "judge":
            return "judge (model-judged)"
        if self.kind == "json_schema":
            return "json_schema"
        value = o["value"]
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return f"{self.kind} {shown}"

    @property
    def model_judged(self) -> bool:
        return self.kind == "judge"


@dataclass(frozen=True)
class Task:
    id: str
    input: str
    checks: tuple[Check, ...] = ()
    workspace: Path | None = None  # a fixture folder, copied fresh for each run
    memory: str = "fresh"  # fresh | suite
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[Task, ...]
    path: Path | None = None
    description: str = ""
    agent: Path | None = None  # the default agent file
    repeat: int = 1
    sha256: str = ""
    workspace: Path | None = None  # the default fixture of tasks that name none

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise SuiteFileError(f"the suite {self.name!r} has no task {task_id!r}")


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


#: What one suite file may cost to read (engine.yamlsafe): size, aliases, nesting.
LIMITS = yamlsafe.Limits(max_bytes=MAX_BYTES, kind="suite files")


def _read_yaml(path: Path) -> tuple[Any, str]:
    """The YAML document of `path` (with line numbers) and its text, through the bounded
    loader every file from a stranger goes through (size, aliases, nesting)."""
    try:
        text, document = yamlsafe.load_file(path, LIMITS)
    except yamlsafe.YamlError as exc:
        raise SuiteFileError(f"cannot read the suite file: {exc}") from exc
    return document, text


def load(path: Path | str) -> Suite:
    """A suite file; raises `SuiteFileError` naming the file, line and field of each problem."""
    path = Path(path)
    document, text = _read_yaml(path)
    return parse(document, text, path)


def parse(document: Any, text: str, path: Path | None = None) -> Suite:
    source = str(path) if path else "suite file"
    if not isinstance(document, dict):
        raise SuiteFileError(
            f"{source}: expected a mapping with schema_version, name and tasks at the top"
        )
    version = document.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise SuiteFileError(
            f"{source}: schema_version {version} is newer than this workbench understands "
            f"({SCHEMA_VERSION}); update Agent Workbench"
        )
    data = plain(document)
    folder = path.parent if path else Path.cwd()
    found = schema_problems.problems(schema(), data)
    if not found:
        found = _meaning_problems(data, folder)
    if found:
        raise SuiteFileError("\n".join(_lines(found, document, source)))
    tasks = tuple(_task(t, folder) for t in data["tasks"])
    return Suite(
        name=data["name"],
        tasks=tasks,
        path=path,
        description=data.get("description", ""),
        agent=(folder / data["agent"]) if data.get("agent") else None,
        repeat=int(data.get("repeat", 1)),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        workspace=(folder / data["workspace"]) if data.get("workspace") else None,
    )


def _meaning_problems(data: dict[str, Any], folder: Path) -> list[Problem]:
    """What the schema cannot say: duplicate ids, patterns that do not compile, schemas
    that are not schemas, fixture folders that do not exist."""
    found: list[Problem] = []
    if data.get("workspace") and not (folder / data["workspace"]).is_dir():
        found.append(Problem(("workspace",), f"no folder {folder / data['workspace']}"))
    seen: set[str] = set()
    for i, task in enumerate(data["tasks"]):
        if task["id"] in seen:
            found.append(Problem(("tasks", i, "id"), f"{task['id']!r} is used by an earlier task"))
        seen.add(task["id"])
        if task.get("workspace") and not (folder / task["workspace"]).is_dir():
            where = folder / task["workspace"]
            found.append(Problem(("tasks", i, "workspace"), f"no folder {where}"))
        for j, check in enumerate(task.get("expect") or ()):
            kind, value = next(iter(check.items()))
            at = ("tasks", i, "expect", j, kind)
            if kind == "regex":
                pattern = value if isinstance(value, str) else value["pattern"]
                try:
                    re.compile(pattern)
                except re.error as exc:
                    found.append(Problem(at, f"the pattern does not compile: {exc}"))
            elif kind == "json_schema":
                try:
                    jsonschema.Draft202012Validator.check_schema(value)
                except jsonschema.SchemaError as exc:
                    found.append(Problem(at, f"is not a valid JSON Schema: {exc.message}"))
    return found


def _task(data: dict[str, Any], folder: Path) -> Task:
    return Task(
        id=data["id"],
        input=data["input"],
        checks=tuple(_check(c) for c in data.get("expect") or ()),
        workspace=(folder / data["workspace"]) if data.get("workspace") else None,
        memory=data.get("memory", "fresh"),
        tags=tuple(data.get("tags") or ()),
    )


def _check(item: dict[str, Any]) -> Check:
    kind, value = next(iter(item.items()))
    if kind == "number":
        opts = value if isinstance(value, dict) else {"value": value}
        return Check(
            kind,
            {
                "value": opts["value"],
                "tolerance": opts.get("tolerance", 0),
                "relative": opts.get("relative", False),
            },
        )
    if kind in ("contains", "not_contains", "equals"):
        opts = value if isinstance(value, dict) else {"text": value}
        return Check(
            kind, {"text": str(opts["text"]), "case_sensitive": opts.get("case_sensitive", False)}
        )
    if kind == "regex":
        opts = value if isinstance(value, dict) else {"pattern": value}
        return Check(
            kind, {"pattern": opts["pattern"], "case_sensitive": opts.get("case_sensitive", False)}
        )
    if kind == "judge":
        opts = value if isinstance(value, dict) else {"rubric": value}
        return Check(kind, {"rubric": opts["rubric"], "model": opts.get("model")})
    return Check(kind, {"value": value})


def suite_folder() -> Path:
    """The suites shipped with the workbench (one per agent template)."""
    return resource("suites")


def shipped() -> dict[str, Path]:
    """Shipped suite name (the template's) -> file."""
    folder = suite_folder()
    return {p.name[: -len(SUFFIX)]: p for p in sorted(folder.glob(f"*{SUFFIX}"))}
