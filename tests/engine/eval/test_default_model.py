"""`eval run` on the real default model: a shipped suite's first tasks, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.eval.suitefile import shipped


@pytest.mark.slow
def test_eval_run_on_the_default_model_reports_its_numbers(
    default_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = str(shipped()["calculator"])
    code = main(
        [
            "eval",
            "run",
            suite,
            "--model",
            str(default_model),
            "--task",
            "power",
            "multiply",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    summary = data["summary"]
    assert summary["tasks"] == 2 and summary["runs"] == 2
    assert set(summary) >= {
        "passed", "pass_rate", "valid_tool_call_rate", "accepted_tool_call_rate",
        "median_latency_ms", "median_tokens",
    }  # fmt: skip
    assert summary["median_latency_ms"] > 0 and summary["median_tokens"] > 0
    for result in data["results"]:
        assert set(result) >= {"id", "passed", "checks", "answer", "steps", "latency_ms"}
        assert all(set(c) == {"check", "passed", "reason"} for c in result["checks"])
    assert Path(data["file"]).is_file()
