"""The headless command contract on the tiny model: JSON on stdout, clear errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**__import__("os").environ, "AGENT_WORKBENCH_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_generate_json(tiny_int4: Path, tmp_path: Path) -> None:
    result = _run(
        "generate",
        "--model",
        str(tiny_int4),
        "--prompt",
        "the quick",
        "--max-new-tokens",
        "5",
        "--json",
        home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {
        "text",
        "provider",
        "prompt_tokens",
        "new_tokens",
        "ttft_ms",
        "prefill_tok_s",
        "decode_tok_s",
    }
    assert data["provider"] == "cpu" and data["prompt_tokens"] == 3


def test_generate_streams_text_and_prints_timings(tiny_int4: Path, tmp_path: Path) -> None:
    result = _run(
        "generate",
        "--model",
        str(tiny_int4),
        "--prompt",
        "the quick",
        "--max-new-tokens",
        "5",
        home=tmp_path,
    )
    assert result.returncode == 0
    assert "decode" in result.stderr and "tok/s" in result.stderr


def test_model_list_json(tiny_int4: Path, tiny_home: Path) -> None:
    result = _run("model", "list", "--json", home=tiny_home)
    names = [m["name"] for m in json.loads(result.stdout)["models"]]
    assert "tiny-int4" in names


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    result = _run("generate", "--model", "nope", "--prompt", "x", home=tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "model prepare" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_provider_is_refused(tiny_int4: Path, tmp_path: Path) -> None:
    result = _run(
        "generate", "--model", str(tiny_int4), "--prompt", "x", "--provider", "tpu", home=tmp_path
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.export
def test_bench_vs_optimum_json(tiny_int4: Path, tmp_path: Path) -> None:
    result = _run(
        "bench",
        "--model",
        str(tiny_int4),
        "--prompt-tokens",
        "20",
        "--new-tokens",
        "8",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--vs",
        "optimum",
        "--json",
        home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for side in ("ours", "optimum"):
        assert set(data[side]["decode_tok_s"]) == {"median", "min", "max"}
        assert set(data[side]["prefill_tok_s"]) == {"median", "min", "max"}
        assert data[side]["peak_rss_mb"] > 0 and data[side]["ttft_ms"]["median"] > 0
    assert data["ratio_decode"] > 0 and data["ratio_prefill"] > 0
    assert data["same_tokens_optimum"] == 8


def test_demo_streams_an_answer_with_timings(tiny_int4: Path, tmp_path: Path) -> None:
    result = _run("demo", "--model", str(tiny_int4), "--max-new-tokens", "6", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Assistant:")
    assert "User: What does a lighthouse do?" in result.stderr and "ttft" in result.stderr


def test_demo_without_a_prepared_model_says_how_to_prepare(tmp_path: Path) -> None:
    result = _run("demo", home=tmp_path)
    assert result.returncode == 2
    assert "model prepare" in result.stderr and "Traceback" not in result.stderr


def test_profile_sources_lists_reasons(tmp_path: Path) -> None:
    result = _run("profile", "sources", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["sources"]}
    assert rows["system"]["available"] and "process_rss_mb" in rows["system"]["channels"]
    for name in ("nvidia", "windows-gpu", "amd", "intel"):
        row = rows[name]
        assert row["available"] or row["reason"], name  # never silently missing


def test_profile_record_list_show_compare_export_delete(tiny_int4: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.awprof.json"
    result = _run(
        "profile", "record", "--out", str(out), "--ort-profile", "--json", "--",
        "generate", "--model", str(tiny_int4), "--prompt", "the quick", "--max-new-tokens", "5",
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["session"] == str(out) and data["metrics"]["new_tokens"] <= 5
    assert data["provider"] == "cpu" and data["metrics"]["ttft_ms"] > 0
    from engine.telemetry.session_file import load

    spans = {sp.kind: sp for sp in load(out).runs[0].spans}
    assert spans["load"].end <= spans["generation"].start  # model load, then the generation
    # recorded into the data home when no --out is given
    again = _run("profile", "record", "--", "generate", "--model", str(tiny_int4),
                 "--prompt", "hi", "--max-new-tokens", "3", home=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "recorded 1 run" in again.stderr
    listed = json.loads(_run("profile", "list", "--json", home=tmp_path).stdout)["sessions"]
    assert len(listed) == 1 and listed[0]["name"] == "generate"
    shown = _run("profile", "show", str(out), "--json", home=tmp_path)
    show = json.loads(shown.stdout)
    assert show["runs"][0]["model"] == "tiny-int4" and show["ort_events"] > 0
    assert any(h["channel"] == "process_rss_mb" for h in show["hardware"])
    text = _run("profile", "show", str(out), home=tmp_path)
    assert "TTFT" in text.stdout and "machine:" in text.stdout
    cmp_ = json.loads(_run("profile", "compare", str(out), listed[0]["file"], "--json",
                           home=tmp_path).stdout)  # fmt: skip
    assert {r["metric"] for r in cmp_["metrics"]} >= {"ttft_ms", "decode_tok_s", "peak_rss_mb"}
    trace, metrics = tmp_path / "t.json", tmp_path / "m.csv"
    exported = _run("profile", "export", str(out), "--chrome", str(trace), "--csv", str(metrics),
                    "--json", home=tmp_path)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["chrome"]["by_phase"]["X"] > 0
    assert json.loads(trace.read_text())["traceEvents"] and metrics.read_text().startswith("run,")
    deleted = _run("profile", "delete", listed[0]["file"], home=tmp_path)
    assert deleted.returncode == 0 and json.loads(
        _run("profile", "list", "--json", home=tmp_path).stdout
    ) == {"sessions": []}


def test_profile_errors_are_clear(tmp_path: Path) -> None:
    result = _run("profile", "record", "--", "dance", home=tmp_path)
    assert result.returncode == 2 and "can record: generate" in result.stderr
    result = _run("profile", "record", "--rate", "0", "--", "generate", "--prompt", "x",
                  home=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "--rate must be more than 0" in result.stderr
    result = _run("profile", "record", "--", "generate", "--model", "nope", "--prompt", "x",
                  home=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "model prepare" in result.stderr
    assert json.loads(_run("profile", "list", "--json", home=tmp_path).stdout) == {"sessions": []}
    bad = tmp_path / "bad.awprof.json"
    bad.write_text('{"format": "agent-workbench-profile", "version": 7}')
    result = _run("profile", "show", str(bad), home=tmp_path)
    assert result.returncode == 2 and "newer than this Agent Workbench" in result.stderr
    result = _run("profile", "export", str(bad), home=tmp_path)
    assert result.returncode == 2 and "--chrome" in result.stderr
    edited = tmp_path / "edited.awprof.json"
    edited.write_text(
        json.dumps({"format": "agent-workbench-profile", "version": 1, "name": "x",
                    "created": "2026-11-24T12:00:00+00:00", "duration_s": 1.0, "machine": {},
                    "samples": [], "runs": [{"index": 0, "label": "r", "kind": "generation",
                    "start": 0, "end": 1, "events": [], "spans": [], "metrics": {}}]})
    )  # fmt: skip
    for command in (["show", str(edited)], ["compare", str(edited), str(edited)]):
        result = _run("profile", *command, home=tmp_path)
        assert result.returncode == 2 and "unexpected content" in result.stderr, command
    assert "Traceback" not in result.stderr


def test_bench_matrix_json_and_plain_bench_still_work(tiny_int4: Path, tmp_path: Path) -> None:
    result = _run(
        "bench", "matrix", "--model", str(tiny_int4), "--threads", "1", "--runs", "2",
        "--warmup", "0", "--prompt-tokens", "12", "--new-tokens", "4", "--only-named", "--json",
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(r["model"], r["threads"], r["runs"]) for r in data["rows"]] == [("tiny-int4", 1, 2)]
    assert Path(data["session"]).parent.name == "sessions" and "[matrix]" in result.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    unsaved = _run("bench", "matrix", "--model", str(tiny_int4), "--threads", "1", "--runs", "1",
                   "--warmup", "0", "--prompt-tokens", "8", "--new-tokens", "2", "--only-named",
                   "--json", "--out", str(blocker / "m.awprof.json"), home=tmp_path)  # fmt: skip
    assert unsaved.returncode == 2 and "cannot write the profiling session" in unsaved.stderr
    assert json.loads(unsaved.stdout)["rows"][0]["runs"] == 1  # the results are still shown
    plain = _run("bench", "--model", str(tiny_int4), "--prompt-tokens", "12", "--new-tokens", "4",
                 "--runs", "1", "--warmup", "0", "--json", home=tmp_path)  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["ours"]["decode_tok_s"]["median"] > 0
    cpu = json.loads(plain.stdout)["cpu"]  # every bench records the CPU it ran on
    assert cpu["model"] and isinstance(cpu["flags"], list) and cpu["cores_logical"] >= 1


def _interrupt_after(
    args: list[str], marker: str, home: Path, on_stdout: bool = False
) -> tuple[int, str, str]:
    """Start a command, press Ctrl-C (SIGINT) once `marker` shows on stderr (or any stdout)."""
    import os
    import signal

    env = {**os.environ, "AGENT_WORKBENCH_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A runner started in the background (`cmd &`) ignores SIGINT, and a child inherits
        # that: give the command the default handler, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None and proc.stdout is not None
    if on_stdout:
        first = proc.stdout.read(1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, first + out, err
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, "".join(seen) + err


def test_bench_matrix_ctrl_c_keeps_the_finished_runs(tiny_int4: Path, tmp_path: Path) -> None:
    code, out, err = _interrupt_after(
        ["bench", "matrix", "--model", str(tiny_int4), "--threads", "1", "2", "--runs", "500",
         "--prompt-tokens", "12", "--new-tokens", "4", "--only-named", "--json"],
        "run 3:",
        tmp_path,
    )  # fmt: skip
    assert code == 130, err
    data = json.loads(out)
    assert data["cancelled"] and len(data["rows"]) == 1
    assert 3 <= data["rows"][0]["runs"] < 500 and data["rows"][0]["threads"] == 1
    saved = _run("profile", "show", data["session"], "--json", home=tmp_path)
    assert json.loads(saved.stdout)["extra"]["matrix"]["cancelled"] is True
    assert "Traceback" not in err


def test_profile_record_ctrl_c_keeps_the_session(tiny_int4: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "cut.awprof.json"
    code, _, err = _interrupt_after(
        ["profile", "record", "--out", str(out_file), "--", "generate", "--model", str(tiny_int4),
         "--prompt", "a", "--max-new-tokens", "500"],
        "",
        tmp_path,
        on_stdout=True,
    )  # fmt: skip
    assert code == 130, err
    assert "cancelled, kept 1 run(s)" in err and "Traceback" not in err
    shown = json.loads(_run("profile", "show", str(out_file), "--json", home=tmp_path).stdout)
    assert shown["extra"]["cancelled"] is True
    assert shown["runs"][0]["metrics"]["generations"] == 0  # cut before its finish event
