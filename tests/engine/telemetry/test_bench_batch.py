"""`bench batch` on the tiny exported model: levels, CPU record, Ctrl+C, peers that cannot
run or crash (a real process killed by SIGSEGV), and the machine's CPU flags."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import WorkbenchError
from engine.telemetry.bench import LLAMACPP_INFO, BenchWorker, explain_exit
from engine.telemetry.bench_batch import (
    BatchBenchConfig,
    batch_prompts,
    format_table,
    run_bench_batch,
    run_metrics,
)
from engine.telemetry.machine import cpu_flags, cpu_summary

ROOT = Path(__file__).resolve().parents[3]


def _main(*args: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "AGENT_WORKBENCH_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A runner started in the background ignores SIGINT; a terminal would not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_bench_batch_json_levels_and_cpu(tiny_int4: Path, tmp_path: Path) -> None:
    proc = _main(
        "bench", "batch", "--model", str(tiny_int4), "--concurrency", "1", "2", "4",
        "--prompt-tokens", "24", "--new-tokens", "10", "--runs", "2", "--vs", "llamacpp",
        "--json", home=tmp_path,
    )  # fmt: skip
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert [lv["concurrency"] for lv in data["levels"]] == [1, 2, 4]
    for level in data["levels"]:
        for key in ("aggregate_decode_tok_s", "per_stream_decode_tok_s", "ttft_ms", "itl_p99_ms"):
            assert set(level[key]) == {"median", "min", "max"}
            assert level[key]["min"] <= level[key]["median"] <= level[key]["max"]
        assert level["aggregate_decode_tok_s"]["median"] > 0 and level["runs"] == 2
        # Greedy: the first stream's tokens do not depend on who else is in the batch.
        assert level["token_ids"][0] == data["levels"][0]["token_ids"][0]
        assert len(level["token_ids"]) == level["concurrency"]
    assert data["cpu"]["model"] and data["cpu"]["flags"] == cpu_flags()
    assert set(data["targets"]) >= {"aggregate_c4_over_c1", "itl_p99_c4_over_c1"}
    # The tiny model was not prepared from a GGUF: the peer says so and ours still ran.
    assert "GGUF" in data["llamacpp"]["unavailable"]
    assert "[bench batch] ours     c=4 run 2/2" in err  # progress on stderr


def test_bench_batch_ctrl_c_gives_a_partial_result(tiny_int4: Path, tmp_path: Path) -> None:
    proc = _main(
        "bench", "batch", "--model", str(tiny_int4), "--concurrency", "1", "2",
        "--prompt-tokens", "24", "--new-tokens", "400", "--runs", "500", "--json",
        home=tmp_path,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "c=1 run 2/500" in line:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + err
    data = json.loads(out)
    assert data["cancelled"] is True
    assert [lv["concurrency"] for lv in data["levels"]] == [1]
    assert 2 <= data["levels"][0]["runs"] < 500
    assert "cancelled" in err and "Traceback" not in err


def test_llamacpp_side_runs_batched_or_says_why(default_model: Path) -> None:
    """On a GGUF-prepared model: llama.cpp's batched run, or the reason it cannot run."""
    config = BatchBenchConfig(
        default_model, concurrency=(1, 2), prompt_tokens=16, new_tokens=4, runs=1, warmup=0,
        vs=["llamacpp"],
    )  # fmt: skip
    lines: list[str] = []
    result = run_bench_batch(config, lines.append)
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        assert "not installed" in result["llamacpp"]["unavailable"]
        assert "bootstrap.py peers" in result["llamacpp"]["unavailable"]
    else:
        levels = result["llamacpp"]["levels"]
        assert [lv["concurrency"] for lv in levels] == [1, 2]
        # Its own batched decoding: the first stream says the same alone and beside another.
        assert levels[1]["token_ids"][0][:3] == levels[0]["token_ids"][0][:3]
        assert levels[1]["aggregate_decode_tok_s"]["median"] > 0
    assert [lv["concurrency"] for lv in result["levels"]] == [1, 2]
    assert "llamacpp" in format_table(result)


def test_a_crashed_peer_says_why_and_how_to_fix_it(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import ctypes; ctypes.string_at(0)"]  # a real SIGSEGV
    with pytest.raises(WorkbenchError) as info:
        BenchWorker({"side": "llamacpp"}, command=crash)
    message = str(info.value)
    assert "SIGSEGV" in message and "exited (code" not in message
    if "amx_tile" in cpu_flags():
        assert "GGML_NATIVE=OFF" in message and "-DGGML_AMX_TILE=OFF" in message
        assert "-DGGML_AVX512=ON" in message
    amx = explain_exit("llamacpp", -11, ["avx512f", "amx_tile"], "ggml_backend_amx_mul_mat")
    assert "ggml_backend_amx_mul_mat" in amx and "bootstrap.py peers" in amx
    # Built without AMX already (its system info says so): not blamed on AMX.
    info = f"{LLAMACPP_INFO} CPU : AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | OPENMP = 1 |\n"
    other = explain_exit("llamacpp", -11, ["avx512f", "amx_tile"], info + "boom")
    assert "built without AMX" in other and "GGML_NATIVE=OFF" not in other
    assert "boom" in other and LLAMACPP_INFO not in other.split("built without")[0]
    plain = explain_exit("llamacpp", -11, ["avx2"])
    assert "AMX" not in plain and "GGML_NATIVE=ON" in plain
    assert explain_exit("ours", 3, []) == "bench side 'ours' crashed: its process exited (3)"


def test_cpu_flags_and_summary() -> None:
    cpuinfo = "processor: 0\nflags\t\t: fpu sse avx2 avx512f amx_tile amx_int8 foo\n"
    assert cpu_flags(cpuinfo) == ["avx2", "avx512f", "amx_tile", "amx_int8"]
    assert cpu_flags("Features\t: fp asimd asimddp i8mm\n") == ["asimd", "asimddp", "i8mm"]
    summary = cpu_summary()
    assert summary["model"] and summary["cores_logical"] >= 1


def test_prompts_and_run_metrics(tiny_int4: Path) -> None:
    prompts = batch_prompts(tiny_int4 / "tokenizer.json", 30, 4)
    assert [len(p) for p in prompts] == [30] * 4
    assert len({tuple(p[1:3]) for p in prompts}) == 4  # no shared prefix after <bos>
    streams = [
        {"t_first": 1.0, "t_last": 2.0, "token_latencies_ms": [500.0, 500.0]},
        {"t_first": 1.5, "t_last": 2.5, "token_latencies_ms": [250.0] * 4},
    ]
    m = run_metrics(streams)
    assert m["aggregate_decode_tok_s"] == pytest.approx(6 / 1.0)  # from 1.5 (all started) to 2.5
    assert m["itl_p50_ms"] == pytest.approx(250.0)
