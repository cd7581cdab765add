"""Comparing sessions: ratios and which side is better, quality changes, matrix rows."""

from __future__ import annotations

from typing import Any

import pytest

from engine.telemetry.compare import compare, format_table
from engine.telemetry.session_file import ProfileSession, RunRecord


def _metrics(decode: float, ttft: float, answer: str, calls: int, valid: int) -> dict[str, Any]:
    return {
        "ttft_ms": ttft,
        "decode_tok_s": decode,
        "prefill_tok_s": None,
        "inter_token": {"p50_ms": 10.0},
        "quality": {"final_answer": answer, "tool_calls": calls, "tool_calls_valid": valid,
                    "errors": 0},
    }  # fmt: skip


def _session(name: str, runs: list[dict[str, Any]], matrix: Any = None) -> ProfileSession:
    records = [
        RunRecord(i, f"task {i}", "agent", 0.0, 1.0, [], [], m, provider={"active": "cpu"})
        for i, m in enumerate(runs)
    ]
    extra = {"matrix": {"rows": matrix}} if matrix else {}
    return ProfileSession(name, "2026-11-24T12:00:00+00:00", 1.0, {}, records, [], extra=extra)


def test_ratios_better_side_and_quality() -> None:
    a = _session("v1", [_metrics(100, 50, "4", 2, 2), _metrics(120, 70, "9", 1, 0)])
    b = _session("v2", [_metrics(150, 40, "4", 2, 1), _metrics(150, 40, "10", 1, 1)])
    result = compare(a, b)
    rows = {r["metric"]: r for r in result["metrics"]}
    assert rows["decode_tok_s"]["a"] == 110 and rows["decode_tok_s"]["ratio"] == pytest.approx(
        150 / 110
    )
    assert rows["decode_tok_s"]["better"] == "b" and rows["ttft_ms"]["better"] == "b"
    assert (
        rows["inter_token.p50_ms"]["ratio"] == 1.0 and rows["inter_token.p50_ms"]["better"] is None
    )
    assert rows["prefill_tok_s"]["a"] is None and rows["prefill_tok_s"]["ratio"] is None
    q = result["quality"]
    assert q["same_answers"] == 1 and q["tool_calls_valid_a"] == [2, 3]
    assert q["tool_calls_valid_b"] == [2, 3] and q["runs"][1]["answer_b"] == "10"
    text = format_table(result)
    assert "identical in 1 of 2" in text and "run 2: A '9' vs B '10'" in text


def _row(provider: str, threads: int, decode: float) -> dict[str, Any]:
    spread = {"median": decode, "min": decode, "max": decode}
    return {
        "model": "default",
        "quantization": "int4",
        "provider": provider,
        "threads": threads,
        "prompt_tokens": 209,
        "ttft_ms": spread,
        "prefill_tok_s": spread,
        "decode_tok_s": spread,
    }


def test_matrix_rows_pair_by_configuration_then_across_providers() -> None:
    cpu = _session("cpu", [], [_row("cpu", 1, 100.0), _row("cpu", 2, 150.0)])
    cpu2 = _session("cpu2", [], [_row("cpu", 2, 165.0)])
    same = compare(cpu, cpu2)["matrix"]
    assert [(m["threads"], m["decode_tok_s"]["ratio"]) for m in same] == [(2, pytest.approx(1.1))]
    cuda = _session("cuda", [], [_row("cuda", 1, 400.0)])
    across = compare(cpu, cuda)
    assert [(m["provider_a"], m["provider_b"]) for m in across["matrix"]] == [("cpu", "cuda")]
    assert "t1 p209 cpu -> cuda: TTFT x4.00, prefill x4.00, decode x4.00" in format_table(across)
