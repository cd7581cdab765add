"""The headless command contract on the tiny model: JSON on stdout, clear errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
