"""Suite runs on a scripted model: results, fresh workspaces, resumption after a kill,
cancellation, matrix runs of two versions of an agent file, and compare."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.eval import results
from engine.eval.compare import compare
from engine.eval.runner import EvalOptions, SuiteFinished, SuiteRun, TaskEvent, TaskFinished
from engine.eval.suitefile import load
from engine.paths import resource
from engine.progress import CancelToken, Progress
from tests.helpers.eval_model import SUMS_SUITE, by_task, suite_file, sums_scripts
from tests.helpers.fake_model import call, final

ROOT = Path(__file__).resolve().parents[3]
CALCULATOR = resource("agents", "calculator.agent.yaml")

SUITE = SUMS_SUITE
SCRIPTS = sums_scripts()  # "3 plus 4" answered wrong on purpose


def test_a_suite_run_scores_each_task_and_saves_the_result_set(tmp_path: Path) -> None:
    model = by_task(SCRIPTS)
    seen: list[Progress] = []
    run = SuiteRun(
        load(suite_file(tmp_path)),
        EvalOptions(agents=(str(CALCULATOR),)),
        open_model=lambda variant, spec: model,
        progress=seen.append,
    )
    events = list(run)
    finished = [e for e in events if isinstance(e, TaskFinished)]
    assert [(e.record["task"], e.record["passed"]) for e in finished] == [
        ("power", True),
        ("seven", False),
        ("eight", True),
    ]
    assert any(isinstance(e, TaskEvent) for e in events)  # the live agent events
    end = events[-1]
    assert isinstance(end, SuiteFinished) and end.status == "complete"
    summary = end.summaries["v0"]
    assert summary["passed"] == 2 and summary["runs"] == 3 and summary["pass_rate"] == 0.6667
    assert summary["accepted_tool_call_rate"] == 1.0 and summary["pass_rate_ci95"] is None
    assert seen[-1].done == 3 and seen[-1].total == 3 and seen[-1].stage == "eval"
    saved = results.load(end.path)
    assert saved.status == "complete" and len(saved.runs) == 3
    assert saved.variants[0].agent["sha256"] == run.planned[0].agent.sha256
    seven = saved.runs[1]
    assert seven["checks"][0]["reason"] == "the answer's final number is 8, not 7"
    assert Path(seven["transcript"]).is_file()
    assert not run.work.exists()  # the scratch folders go when the suite is complete


def test_repeat_gives_a_wilson_interval(tmp_path: Path) -> None:
    scripts = {k: v * 2 for k, v in SCRIPTS.items()}
    model = by_task(scripts)
    run = SuiteRun(
        load(suite_file(tmp_path)),
        EvalOptions(agents=(str(CALCULATOR),), repeat=2),
        open_model=lambda variant, spec: model,
    )
    end = list(run)[-1]
    assert isinstance(end, SuiteFinished)
    s = end.summaries["v0"]
    assert s["runs"] == 6 and s["passed"] == 4
    low, high = s["pass_rate_ci95"]
    assert 0.29 < low < 0.31 and 0.90 < high < 0.91  # Wilson, 4 of 6


def test_each_task_gets_a_fresh_copy_of_its_workspace(tmp_path: Path) -> None:
    fixture = tmp_path / "ws"
    fixture.mkdir()
    (fixture / "config.ini").write_text("port = 8080\n", encoding="utf-8")
    agent = tmp_path / "reader.agent.yaml"
    text = resource("agents", "research.agent.yaml").read_text(encoding="utf-8")
    agent.write_text(
        text.replace(
            "  - name: files.read\n",
            "  - name: files.write\n    approval: auto\n  - name: files.read\n",
        ),
        encoding="utf-8",
    )
    suite = suite_file(
        tmp_path,
        "schema_version: 1\nname: ws\nworkspace: ws\ntasks:\n"
        "  - id: write\n    input: Write config.ini\n    expect: [{tool_used: files.write}]\n"
        "  - id: read\n    input: Read config.ini\n    expect: [{contains: '8080'}]\n",
    )
    model = by_task(
        {
            "Write config.ini": [
                call(
                    "files.write",
                    '{"path": "config.ini", "content": "port = 1", "mode": "overwrite"}',
                ),
                final("written"),
            ],
            "Read config.ini": [call("files.read", '{"path": "config.ini"}'), final("port = 8080")],
        }
    )
    options = EvalOptions(agents=(str(agent),), trust=True)  # files.write auto needs trust
    run = SuiteRun(load(suite), options, open_model=lambda v, s: model)
    records = [e.record for e in run if isinstance(e, TaskFinished)]
    assert [r["tool_calls"][0]["accepted"] for r in records] == [True, True]
    assert [r["passed"] for r in records] == [True, True]
    assert (fixture / "config.ini").read_text(encoding="utf-8") == "port = 8080\n"


KILLED = """
import sys, time
from engine.eval.runner import EvalOptions, SuiteRun
from engine.eval.suitefile import load
from tests.helpers.eval_model import SUMS_SUITE, by_task, suite_file, sums_scripts
from tests.helpers.fake_model import final
model = by_task({"plus": [final("It is 8.")] * 10})
run = SuiteRun(load(sys.argv[1]), EvalOptions(agents=(sys.argv[2],)),
               open_model=lambda v, s: model, out=__import__("pathlib").Path(sys.argv[3]))
for event in run:
    if type(event).__name__ == "TaskFinished" and event.index == 2:
        print("two done", flush=True)
        time.sleep(60)  # killed here, mid-suite
"""


def test_a_suite_killed_mid_run_resumes_with_its_finished_tasks(tmp_path: Path) -> None:
    text = "schema_version: 1\nname: sums\ntasks:\n" + "".join(
        f"  - id: t{i}\n    input: What is {i} plus {8 - i}?\n    expect: [{{number: 8}}]\n"
        for i in range(4)
    )
    suite = suite_file(tmp_path, text)
    out = tmp_path / "r.aweval.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(suite), str(CALCULATOR), str(out)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"two done"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    killed = results.load(out)
    assert killed.status == "running" and [r["task"] for r in killed.runs] == ["t0", "t1"]

    model = by_task({"plus": [final("It is 8.")] * 10})
    run = SuiteRun(
        load(suite),
        EvalOptions.from_dict(killed.options),
        open_model=lambda v, s: model,
        resume=killed,
    )
    events = list(run)
    assert [e.record["task"] for e in events if isinstance(e, TaskFinished)] == ["t2", "t3"]
    assert len(model.prompts) == 2  # the finished tasks did not run again
    done = results.load(out)
    assert done.status == "complete" and [r["task"] for r in done.runs] == ["t0", "t1", "t2", "t3"]
    assert done.runs[0] == killed.runs[0]


def test_resume_refuses_a_changed_suite(tmp_path: Path) -> None:
    model = by_task(SCRIPTS)
    run = SuiteRun(
        load(suite_file(tmp_path)),
        EvalOptions(agents=(str(CALCULATOR),)),
        open_model=lambda v, s: model,
    )
    list(run)
    changed = suite_file(tmp_path, SUITE.replace("number: 7", "number: 8"))
    from engine.eval.runner import EvalError

    with pytest.raises(EvalError, match="the suite file changed since this run started"):
        SuiteRun(
            load(changed),
            EvalOptions(agents=(str(CALCULATOR),)),
            open_model=lambda v, s: model,
            resume=results.load(run.result.path or ""),
        )


def test_cancel_keeps_the_finished_tasks_and_drops_the_cut_one(tmp_path: Path) -> None:
    cancel = CancelToken()
    model = by_task(SCRIPTS, delay=0.01)
    run = SuiteRun(
        load(suite_file(tmp_path)),
        EvalOptions(agents=(str(CALCULATOR),)),
        open_model=lambda v, s: model,
        cancel=cancel,
    )
    events = []
    for event in run:
        events.append(event)
        if isinstance(event, TaskEvent) and event.task == "seven":
            cancel.cancel()
    end = events[-1]
    assert isinstance(end, SuiteFinished) and end.status == "cancelled"
    saved = results.load(end.path)
    assert saved.status == "cancelled" and [r["task"] for r in saved.runs] == ["power"]


def test_two_versions_of_an_agent_file_run_as_a_matrix_and_compare_by_task(tmp_path: Path) -> None:
    old = tmp_path / "a" / "calc.agent.yaml"
    new = tmp_path / "b" / "calc.agent.yaml"
    for path, goal in ((old, "Answer."), (new, "Answer with the computed number.")):
        path.parent.mkdir()
        path.write_text(
            CALCULATOR.read_text(encoding="utf-8").replace(
                "  - Answer with the computed number.", f"  - {goal}"
            ),
            encoding="utf-8",
        )

    def model_for(variant: object, spec: object) -> object:
        v0 = variant.key == "v0"
        return by_task(
            {
                "power of 20": [
                    call("calculator", '{"expression": "2**20"}'),
                    final("It is 1,048,576." if v0 else "It is 20."),
                ],
                "3 plus 4": [final("It is 8." if v0 else "It is 7.")],
                "5 plus 3": [final("It is 8.")],
            }
        )

    run = SuiteRun(
        load(suite_file(tmp_path)), EvalOptions(agents=(str(old), str(new))), open_model=model_for
    )  # type: ignore[arg-type]
    list(run)
    result = results.load(run.result.path or "")
    a, b = result.variants
    assert a.agent["sha256"] != b.agent["sha256"] and a.label != b.label
    diff = compare(result, a, result, b)
    assert diff["flipped"] == {"fixed": ["seven"], "broken": ["power"]}
    assert [row["flip"] for row in diff["tasks"]] == ["broken", "fixed", None]
    assert diff["deltas"]["pass_rate"] == 0.0 and diff["same_suite"]
    assert diff["tasks"][0]["b_failed_checks"] == ["number 1048576"]
