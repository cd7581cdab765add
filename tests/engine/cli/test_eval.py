"""`eval validate | import | list | show | compare | export` on a saved result set, and
`eval run`'s errors (a real-model `eval run` is in tests/engine/eval/test_default_model.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.eval.runner import EvalOptions, SuiteRun
from engine.eval.suitefile import load, shipped
from engine.paths import resource
from tests.helpers.eval_model import by_task
from tests.helpers.fake_model import final


def saved_run(tmp_path: Path, answer: str) -> Path:
    suite = tmp_path / "s.suite.yaml"
    suite.write_text(
        "schema_version: 1\nname: s\ntasks:\n  - id: seven\n    input: 3 plus 4?\n"
        "    expect: [{number: 7}]\n",
        encoding="utf-8",
    )
    model = by_task({"3 plus 4": [final(answer)]})
    agent = str(resource("agents", "calculator.agent.yaml"))
    run = SuiteRun(load(suite), EvalOptions(agents=(agent,)), open_model=lambda v, s: model)
    list(run)
    assert run.result.path is not None
    return run.result.path


def test_list_show_compare_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = saved_run(tmp_path, "It is 8."), saved_run(tmp_path, "It is 7.")
    assert main(["eval", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["results"]
    assert {r["path"] for r in listed} == {str(before), str(after)}
    assert main(["eval", "show", str(before)]) == 0
    assert "x number 7: the answer's final number is 8, not 7" in capsys.readouterr().out
    assert main(["eval", "compare", str(before), str(after), "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["flipped"] == {"fixed": ["seven"], "broken": []}
    assert diff["deltas"]["pass_rate"] == 1.0
    out = tmp_path / "x.csv"
    assert main(["eval", "export", str(after), "--format", "csv", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").splitlines()[1].split(",")[6:9] == ["seven", "0", "True"]
    assert main(["eval", "export", str(after), "--format", "otlp"]) == 0
    assert "resourceSpans" in json.loads(capsys.readouterr().out)


def test_validate_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in shipped().values():
        assert main(["eval", "validate", str(path)]) == 0
    tasks = tmp_path / "t.jsonl"
    tasks.write_text('{"input": "2+2?", "expected": 4}\n', encoding="utf-8")
    assert main(["eval", "import", str(tasks), "--out", str(tmp_path / "t.suite.yaml")]) == 0
    assert load(tmp_path / "t.suite.yaml").tasks[0].checks[0].label == "number 4"
    bad = tmp_path / "bad.suite.yaml"
    bad.write_text("schema_version: 1\nname: b\ntasks:\n  - id: x\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["eval", "validate", str(bad)]) == 2
    assert f"{bad}, line 4: tasks[0]: 'input' is a required property" in capsys.readouterr().err


def test_run_needs_one_suite_and_a_prepared_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = str(resource("agents", "calculator.agent.yaml"))
    assert main(["eval", "run", agent]) == 2
    assert "exactly one suite file" in capsys.readouterr().err
    suite = str(shipped()["calculator"])
    assert main(["eval", "run", suite, "--model", "nothing-here"]) == 2
    assert "no prepared model 'nothing-here'" in capsys.readouterr().err
