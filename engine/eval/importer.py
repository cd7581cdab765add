"""`eval import`: a plain task list (JSON Lines or CSV) as a suite file.

Each line (JSONL object or CSV row) is one task: `input` (or `question` / `prompt`), an
optional `id`, `workspace`, `memory`, `tags`, and checks as columns named like the checks
(`number`, `contains`, `regex`, `tool_used`, `max_steps`, ...). `expected` (or `answer`)
is a shortcut: a number becomes a `number` check, other text a `contains` check. In CSV,
`tool_sequence` and `tags` are separated by spaces or commas, `json_schema` and
`tool_args` hold JSON. The suite is checked like any suite file before it is written,
and an existing file is never overwritten.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from engine.eval.suitefile import CHECK_KINDS, MAX_BYTES, SCHEMA_VERSION, SuiteFileError, load

INPUT_KEYS = ("input", "question", "prompt")
EXPECTED_KEYS = ("expected", "answer")
INTEGER_CHECKS = ("max_steps", "max_tokens")
NUMBER_CHECKS = ("number", "max_latency_ms")
JSON_CHECKS = ("json_schema", "tool_args")


def read_tasks(path: Path) -> list[dict[str, Any]]:
    """The task rows of a .jsonl / .csv file (plain values, as written)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SuiteFileError(f"{path} is larger than {MAX_BYTES // 1000} kB; split it")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteFileError(f"cannot read the task list {path}: {exc}") from exc
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        found = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SuiteFileError(f"{path}, line {number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise SuiteFileError(f"{path}, line {number}: expected a JSON object per line")
            found.append({**row, "_line": number})
        return found
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        return [
            {**{k.strip(): v for k, v in row.items() if k and v not in (None, "")}, "_line": n}
            for n, row in enumerate(reader, 2)
        ]
    raise SuiteFileError(f"{path}: a task list is a .jsonl or .csv file")


def to_suite(
    rows: list[dict[str, Any]], name: str, source: Path, agent: str | None
) -> dict[str, Any]:
    tasks = [_task(row, i, source) for i, row in enumerate(rows, 1)]
    if not tasks:
        raise SuiteFileError(f"{source} holds no tasks")
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "name": name}
    if agent:
        data["agent"] = agent
    data["tasks"] = tasks
    return data


def _task(row: dict[str, Any], index: int, source: Path) -> dict[str, Any]:
    where = f"{source}, line {row['_line']}"
    text = next((row[k] for k in INPUT_KEYS if row.get(k) not in (None, "")), None)
    if text is None:
        raise SuiteFileError(f"{where}: no input (a column or key named input, question or prompt)")
    task: dict[str, Any] = {"id": str(row.get("id") or f"task-{index}"), "input": str(text)}
    for key in ("workspace", "memory"):
        if row.get(key):
            task[key] = str(row[key])
    if row.get("tags"):
        tags = row["tags"]
        task["tags"] = tags if isinstance(tags, list) else re.split(r"[\s,]+", str(tags).strip())
    expect: list[dict[str, Any]] = []
    expected = next((row[k] for k in EXPECTED_KEYS if row.get(k) not in (None, "")), None)
    if expected is not None:
        number = _number(expected)
        expect.append({"number": number} if number is not None else {"contains": str(expected)})
    for kind in CHECK_KINDS:
        if kind in row:
            expect.append({kind: _value(kind, row[kind], where)})
    if expect:
        task["expect"] = expect
    return task


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    text = str(value).strip().replace(",", "")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d*\.\d+(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+", text):
        return float(text)
    return None


def _value(kind: str, value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    if kind in JSON_CHECKS:
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise SuiteFileError(f"{where}: {kind} is not JSON ({exc.msg})") from exc
    if kind in INTEGER_CHECKS or kind in NUMBER_CHECKS:
        number = _number(value)
        if number is None:
            raise SuiteFileError(f"{where}: {kind} must be a number, not {value!r}")
        return number
    if kind == "tool_sequence":
        return [t for t in re.split(r"[\s,>]+", value.strip()) if t]
    return value


def import_tasks(
    source: Path, out: Path, name: str | None = None, agent: str | None = None
) -> Path:
    """Write `out` (NAME.suite.yaml) from the task list `source`; returns `out`."""
    from ruamel.yaml import YAML

    if not out.name.endswith(".suite.yaml"):
        raise SuiteFileError(f"{out}: a suite file's name ends with .suite.yaml")
    if out.exists():
        raise SuiteFileError(f"{out} already exists; choose another file name")
    data = to_suite(read_tasks(source), name or source.stem, source, agent)
    buffer = io.StringIO()
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    yaml.dump(data, buffer)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        load(tmp)  # what we write must load as a suite (paths relative to `out`'s folder)
        with out.open("x", encoding="utf-8") as handle:
            handle.write(buffer.getvalue())
    finally:
        os.unlink(tmp)
    return out
