"""Edit a suite file's text: add a task made from a run, save after validating.

    text = add_task(text, task_from_run("What is 2**20?", "It is 1,048,576.", existing))
    suite = save_text(path, text)     # SuiteFileError (file, line, field) and nothing written

The window's Evaluation panel edits suites as text; adding a task goes through a YAML
round trip (ruamel), so the person's comments and key order are kept. A task made from a
run takes the run's answer as its expectation, by the same rule as `eval import`'s
`expected`: a number becomes a `number` check, other text a `contains` check.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.eval.checks import numbers
from engine.eval.suitefile import MAX_BYTES, SUFFIX, Suite, SuiteFileError, load


def task_id(text: str, taken: Collection[str]) -> str:
    """A short, unused task id from the task's words (`what-is-2-20`, `...-2`, ...)."""
    words = re.findall(r"[a-z0-9]+", text.lower())[:5]
    base = "-".join(words)[:40].strip("-") or "task"
    found, n = base, 1
    while found in taken:
        n += 1
        found = f"{base}-{n}"
    return found


def expectation(answer: str) -> dict[str, Any]:
    """The check an answer becomes: its final number (`number`, read as that check reads
    the answer: `1,048,576` is one number, a date's `-` is no sign), else its text
    (`contains`)."""
    text = answer.strip()
    if not text:
        raise SuiteFileError("the run has no final answer to expect: run it to an answer first")
    found = numbers(text)  # as the `number` check reads the answer
    if found:
        value = found[-1]
        return {"number": int(value) if float(value).is_integer() else value}
    return {"contains": text}


def task_from_run(task: str, answer: str, taken: Collection[str] = ()) -> dict[str, Any]:
    """A suite task for `task` whose expectation is the run's `answer`."""
    if not task.strip():
        raise SuiteFileError("the run has no task text")
    return {"id": task_id(task, taken), "input": task.strip(), "expect": [expectation(answer)]}


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    yaml.preserve_quotes = True
    return yaml


def task_ids(text: str) -> list[str]:
    """The ids of the tasks in a suite's text (empty when it does not parse)."""
    try:
        data = _yaml().load(text)
    except Exception:  # noqa: BLE001 - a half-typed file simply has no ids yet
        return []
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list):
        return []
    return [str(t.get("id")) for t in tasks if isinstance(t, dict) and t.get("id")]


def add_task(text: str, task: dict[str, Any]) -> str:
    """The suite text with `task` appended to its tasks (comments and order kept)."""
    from ruamel.yaml.error import YAMLError

    try:
        data = _yaml().load(text) if text.strip() else None
    except YAMLError as exc:
        raise SuiteFileError(f"the suite text is not valid YAML, fix it first: {exc}") from exc
    if data is None:
        data = {"schema_version": 1, "name": "new suite", "tasks": []}
    if not isinstance(data, dict):
        raise SuiteFileError("the suite text is not a mapping with name and tasks")
    tasks = data.get("tasks")
    if tasks is None:
        data["tasks"] = tasks = []
    if not isinstance(tasks, list):
        raise SuiteFileError("the suite's `tasks` is not a list")
    tasks.append(task)
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    return buffer.getvalue()


def save_text(path: Path | str, text: str) -> Suite:
    """Write `text` to the suite file `path` if it is a valid suite there (paths resolve
    against `path`'s folder); on a problem raise `SuiteFileError` and leave the file as it
    was. The write is atomic (a temporary file renamed over the old one)."""
    path = Path(path)
    if not path.name.endswith(SUFFIX):
        raise SuiteFileError(f"{path}: a suite file's name ends with {SUFFIX}")
    data = text.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise SuiteFileError(f"the suite is larger than {MAX_BYTES // 1000} kB; split it")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        try:
            suite = load(tmp)
        except SuiteFileError as exc:
            raise SuiteFileError(str(exc).replace(str(tmp), str(path))) from None
        os.replace(tmp, path)
    except OSError as exc:
        raise SuiteFileError(f"cannot write the suite file {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return replace(suite, path=path)


def user_suites_dir(create: bool = True) -> Path:
    """Where the window saves the person's suites: the data home's suites/."""
    from engine.paths import data_home

    folder = data_home() / "suites"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _moved(value: Any, old: Path, new: Path) -> Any:
    if not isinstance(value, str) or not value.strip():
        return value
    path = Path(value).expanduser()
    if path.is_absolute():
        return value
    target = (old / path).resolve()
    try:
        return Path(os.path.relpath(target, new.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return str(target)


def relocate(text: str, old_folder: Path, new_folder: Path) -> str:
    """The suite text for a file in `new_folder` naming the same files as it did in
    `old_folder`: its relative `agent`, `workspace` and tasks' `workspace` are rewritten
    (a shipped suite saved as the person's own keeps its agent and fixtures)."""
    from ruamel.yaml.error import YAMLError

    try:
        data = _yaml().load(text)
    except YAMLError as exc:
        raise SuiteFileError(f"the suite text is not valid YAML, fix it first: {exc}") from exc
    if not isinstance(data, dict):
        return text
    for key in ("agent", "workspace"):
        if key in data:
            data[key] = _moved(data[key], old_folder, new_folder)
    for task in data.get("tasks") or ():
        if isinstance(task, dict) and "workspace" in task:
            task["workspace"] = _moved(task["workspace"], old_folder, new_folder)
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    return buffer.getvalue()
