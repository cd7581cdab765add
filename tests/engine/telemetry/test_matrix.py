"""bench matrix on the tiny models: the plan, a real run recorded as a session, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import WorkbenchError
from engine.progress import CancelToken, Progress, Reporter
from engine.telemetry import chrome_trace, session_file
from engine.telemetry.matrix import MatrixConfig, format_table, plan, quantizations, run_matrix
from engine.telemetry.recorder import Recorder
from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.sources import ProcessSource, SystemSource
from engine.telemetry.trace_check import problems


def _config(model: Path, **kw: object) -> MatrixConfig:
    base: dict = {"models": (model,), "threads": (1, 2), "providers": ("cpu", "cuda"), "runs": 2,
                  "warmup": 1, "prompt_tokens": (16,), "new_tokens": 6}  # fmt: skip
    base.update(kw)
    return MatrixConfig(**base)


def test_plan_finds_the_other_quantizations_and_skips_missing_providers(
    tiny_int4: Path, tiny_fp32: Path
) -> None:
    assert quantizations(tiny_int4) == [tiny_int4, tiny_fp32]
    combos, skipped = plan(_config(tiny_int4))
    assert [(c.manifest.name, c.provider, c.threads) for c in combos] == [
        ("tiny-int4", "cpu", 1), ("tiny-int4", "cpu", 2), ("tiny-fp32", "cpu", 1),
        ("tiny-fp32", "cpu", 2),
    ]  # fmt: skip
    assert skipped[0]["provider"] == "cuda" and "CUDAExecutionProvider" in skipped[0]["reason"]
    only, _ = plan(_config(tiny_int4, siblings=False, threads=(2, 2)))
    assert [(c.manifest.name, c.threads) for c in only] == [("tiny-int4", 2)]
    sweep, _ = plan(_config(tiny_int4, siblings=False, threads=(1,), prompt_tokens=(8, 64)))
    assert [(c.threads, c.prompt_tokens) for c in sweep] == [(1, 8), (1, 64)]
    with pytest.raises(WorkbenchError, match="auto"):
        plan(_config(tiny_int4, providers=("auto",)))
    with pytest.raises(WorkbenchError, match="at least 1"):
        plan(_config(tiny_int4, threads=(0,)))
    with pytest.raises(WorkbenchError, match="unknown provider 'tpu'"):
        plan(_config(tiny_int4, providers=("tpu",)))
    with pytest.raises(WorkbenchError, match="--runs"):
        plan(_config(tiny_int4, runs=0))


def _recorder() -> Recorder:
    return Recorder(name="matrix", sampler=HardwareSampler([SystemSource()], rate_hz=20.0))


def test_matrix_runs_and_is_saved_as_a_session(tiny_int4: Path, tmp_path: Path) -> None:
    progress: list[Progress] = []
    worker = ProcessSource("worker")
    rec = Recorder(name="matrix", sampler=HardwareSampler([SystemSource(), worker], rate_hz=50.0))
    with rec:
        result = run_matrix(
            _config(tiny_int4, siblings=False),
            rec,
            Reporter(progress.append),
            lambda _: None,
            worker.watch,
        )
    rec.extra["matrix"] = result
    s = session_file.load(session_file.save(rec.finish()))
    rows = result["rows"]
    assert [(r["provider"], r["threads"], r["runs"]) for r in rows] == [
        ("cpu", 1, 2),
        ("cpu", 2, 2),
    ]
    for r in rows:
        for key in ("ttft_ms", "prefill_tok_s", "decode_tok_s"):
            assert r[key]["min"] <= r[key]["median"] <= r[key]["max"] and r[key]["min"] > 0
            assert r[key]["stdev"] >= 0
        assert r["peak_rss_mb"] > 10 and r["gpu_mem_mb"] is None
    assert not result["cancelled"] and progress[-1].done == progress[-1].total == 6
    # every measured generation is in the session, with its tokens, on the shared clock
    assert [r.label for r in s.runs] == [
        "tiny-int4 [int4] cpu t1 p16",
        "tiny-int4 [int4] cpu t2 p16",
    ]
    run = s.runs[0]
    assert run.metrics["generations"] == 2 and run.metrics["new_tokens"] == 12
    assert sum(e.kind == "token" for e in run.events) == 12
    assert all(run.start <= e.t <= run.end for e in run.events)
    load = next(sp for sp in run.spans if sp.kind == "load")  # the worker's start-up
    assert load.name == "tiny-int4" and load.end <= min(
        e.t for e in run.events if e.kind == "token"
    )
    assert s.extra["matrix"]["rows"][0]["decode_tok_s"] == rows[0]["decode_tok_s"]
    # the workers' own memory, charted while each one ran (gaps between them)
    series = next(x for x in s.samples if x.source == "worker")
    rss = [row[1] for row in series.values]
    assert any(v is not None and v > 20 for v in rss) and rss[0] is None
    assert problems(chrome_trace.build(s)) == []
    table = format_table(result)
    assert "| tiny-int4 | int4 | cpu | 1 | 16 |" in table and "skipped all models on cuda" in table


def test_matrix_can_be_cancelled_and_keeps_what_finished(tiny_int4: Path) -> None:
    token = CancelToken()

    def progress(p: Progress) -> None:
        if p.done >= 3:  # after the first combination (1 warm-up + 2 runs)
            token.cancel()

    rec = _recorder()
    with rec:
        result = run_matrix(
            _config(tiny_int4, siblings=False), rec, Reporter(progress, token), log=lambda _: None
        )
    assert result["cancelled"] and [r["threads"] for r in result["rows"]] == [1]
    assert "cancelled" in format_table(result)


def test_a_combination_that_fails_is_reported_and_the_rest_go_on(
    tiny_int4: Path, tmp_path: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_int4, broken)
    onnx = broken / "model.onnx"
    onnx.write_bytes(b"\0" * onnx.stat().st_size)  # same size: only loading finds out
    rec = _recorder()
    with rec:
        result = run_matrix(
            MatrixConfig(models=(broken, tiny_int4), threads=(1,), providers=("cpu",), runs=1,
                         warmup=0, prompt_tokens=(8,), new_tokens=2, siblings=False),
            rec,
            Reporter(),
            lambda _: None,
        )  # fmt: skip
    assert [r["model"] for r in result["rows"]] == ["tiny-int4"]
    (failure,) = result["skipped"]
    assert failure["provider"] == "cpu" and failure["reason"].startswith("failed: bench side")
    assert "could not start" in failure["reason"] and not result["cancelled"]
