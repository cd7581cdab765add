"""`eval import`: JSONL and CSV task lists become suite files that load."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.eval.importer import import_tasks
from engine.eval.suitefile import SuiteFileError, load


def test_jsonl_tasks_become_a_suite(tmp_path: Path) -> None:
    source = tmp_path / "tasks.jsonl"
    source.write_text(
        '{"id": "power", "question": "2**20?", "expected": "1,048,576"}\n'
        "\n"
        '{"input": "Port?", "contains": "8080", "tool_args": {"tool": "files.read", '
        '"args": {"path": "config.ini"}}, "max_steps": 3}\n',
        encoding="utf-8",
    )
    out = import_tasks(source, tmp_path / "t.suite.yaml", agent="x.agent.yaml")
    suite = load(out)
    assert suite.name == "tasks" and suite.agent == tmp_path / "x.agent.yaml"
    power, port = suite.tasks
    assert power.id == "power" and power.checks[0].label == "number 1048576"
    assert port.id == "task-2"
    assert [c.kind for c in port.checks] == ["contains", "tool_args", "max_steps"]


def test_csv_tasks_become_a_suite(tmp_path: Path) -> None:
    source = tmp_path / "tasks.csv"
    source.write_text(
        "id,input,expected,tool_sequence,tags\n"
        "a,What is 2+2?,4,,math\n"
        'b,Find the port,port 8080,"files.search files.read","files, config"\n',
        encoding="utf-8",
    )
    suite = load(import_tasks(source, tmp_path / "c.suite.yaml", name="from csv"))
    a, b = suite.tasks
    assert a.checks[0].options["value"] == 4 and a.tags == ("math",)
    assert b.checks[0].label == 'contains "port 8080"'
    assert b.checks[1].options["value"] == ["files.search", "files.read"]


def test_import_never_overwrites_and_names_the_bad_line(tmp_path: Path) -> None:
    source = tmp_path / "tasks.jsonl"
    source.write_text('{"input": "ok"}\n{"expected": 3}\n', encoding="utf-8")
    with pytest.raises(SuiteFileError, match=r"tasks.jsonl, line 2: no input"):
        import_tasks(source, tmp_path / "t.suite.yaml")
    assert not (tmp_path / "t.suite.yaml").exists()
    existing = tmp_path / "keep.suite.yaml"
    existing.write_text("mine\n", encoding="utf-8")
    source.write_text('{"input": "ok"}\n', encoding="utf-8")
    with pytest.raises(SuiteFileError, match="already exists"):
        import_tasks(source, existing)
    assert existing.read_text(encoding="utf-8") == "mine\n"
