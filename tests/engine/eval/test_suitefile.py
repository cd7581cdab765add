# ruff: noqa: E501  (tables of cases: one case per line)
"""Suite files: what loads, and errors that name the file, the line and the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine.agent.agentfile import load as load_agent
from engine.agent.templates import templates
from engine.eval import suitefile
from engine.eval.suitefile import SuiteFileError, load

GOOD = """\
schema_version: 1
name: arithmetic basics
agent: calculator.agent.yaml
repeat: 2
tasks:
  - id: power
    input: What is 2 to the power of 20?
    expect:
      - number: 1048576
      - number: {value: 3.14, tolerance: 0.01}
  - id: port
    input: What port is set in config.ini?
    workspace: ws1
    memory: suite
    expect:
      - contains: "8080"
      - tool_used: files.read
      - max_steps: 3
"""


def write(tmp_path: Path, text: str, name: str = "s.suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_suite_loads_with_its_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "ws1").mkdir()
    suite = load(write(tmp_path, GOOD))
    assert suite.name == "arithmetic basics" and suite.repeat == 2
    assert suite.agent == tmp_path / "calculator.agent.yaml"
    power, port = suite.tasks
    assert [c.kind for c in power.checks] == ["number", "number"]
    assert power.checks[1].options == {"value": 3.14, "tolerance": 0.01, "relative": False}
    assert power.memory == "fresh" and port.memory == "suite"
    assert port.workspace == tmp_path / "ws1"
    assert [c.label for c in port.checks] == [
        'contains "8080"',
        "tool_used files.read",
        "max_steps 3",
    ]
    assert len(suite.sha256) == 64


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("      - number: 1048576", "      - numbr: 1048576"), "line 9: tasks[0].expect[0].numbr: unknown key 'numbr'"),
        (("      - max_steps: 3", "      - max_steps: three"), "line 18: tasks[1].expect[2].max_steps: 'three' is not of type 'integer'"),
        (("  - id: port", "  - id: power"), "line 11: tasks[1].id: 'power' is used by an earlier task"),
        (("workspace: ws1", "workspace: nowhere"), "line 13: tasks[1].workspace: no folder"),
        (("      - tool_used: files.read", "      - regex: '(unclosed'"), "line 17: tasks[1].expect[1].regex: the pattern does not compile"),
        (("repeat: 2", "repeat: 0"), "line 4: repeat"),
        (("      - number: 1048576", "      - {contains: a, regex: b}"), "line 9: tasks[0].expect[0]: must name exactly one check"),
        (("    input: What is 2 to the power of 20?\n", ""), "tasks[0]: 'input' is a required property"),
    ],
)  # fmt: skip
def test_errors_name_the_file_line_and_field(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    (tmp_path / "ws1").mkdir()
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(SuiteFileError) as caught:
        load(path)
    assert f"{path}, {expected}" in str(caught.value) or (
        expected.startswith("tasks[0]:") and f"{path}, line 6: {expected}" in str(caught.value)
    ), str(caught.value)


def test_a_json_schema_check_must_be_a_schema(tmp_path: Path) -> None:
    (tmp_path / "ws1").mkdir()
    text = GOOD.replace("      - max_steps: 3", "      - json_schema: {type: 12}")
    with pytest.raises(
        SuiteFileError,
        match=r"line 18: tasks\[1\]\.expect\[2\]\.json_schema: is not a valid JSON Schema",
    ):
        load(write(tmp_path, text))


def test_yaml_errors_and_newer_versions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SuiteFileError, match="is not valid YAML"):
        load(write(tmp_path, "tasks: [\n"))
    with pytest.raises(SuiteFileError, match="newer than this workbench"):
        load(write(tmp_path, "schema_version: 9\nname: x\ntasks: []\n"))
    with pytest.raises(SuiteFileError, match="expected a mapping"):
        load(write(tmp_path, "- a list\n"))


def test_files_over_the_size_cap_are_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "name: x\n" + "# padding\n" * 200)
    monkeypatch.setattr(suitefile, "LIMITS", replace(suitefile.LIMITS, max_bytes=1000))
    parsed: list[Path] = []
    monkeypatch.setattr("ruamel.yaml.YAML.load", lambda self, text: parsed.append(path))
    with pytest.raises(SuiteFileError, match="suite files may be at most 1,000 bytes"):
        load(path)
    assert parsed == []


def test_every_template_has_a_shipped_suite_of_at_least_ten_tasks() -> None:
    shipped = suitefile.shipped()
    assert set(shipped) == set(templates())
    for name, path in shipped.items():
        suite = load(path)
        assert len(suite.tasks) >= 10, name
        assert suite.agent is not None and load_agent(suite.agent).spec.name
        assert suite.agent.resolve() == templates()[name].resolve()
        assert all(t.checks for t in suite.tasks), name


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = write(tmp_path, "schema_version: 1\nname: bomb\n" + "\n".join(lines) + "\ntasks: []\n")
    with pytest.raises(SuiteFileError, match="alias"):
        load(path)


MEASURED = sorted((Path(__file__).parents[2] / "data").glob("*/*.suite.yaml"))


@pytest.mark.parametrize("path", MEASURED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_measurement_suites_load(path: Path) -> None:
    """The held-out and fresh suites of docs/agents.md stay valid as the format moves."""
    suite = load(path)
    assert len(suite.tasks) >= 4
    assert suite.agent is not None and load_agent(suite.agent).spec.name
    assert all(task.checks for task in suite.tasks)
