"""`bench batch`: several streams at once, per concurrency level, ours beside llama.cpp.

Each side runs in its own worker process (engine.telemetry.bench_worker) for the whole
benchmark; runs alternate between sides so that a noisy neighbour hurts both. A level of
concurrency N starts N streams together (distinct prompts of the same length, greedy,
`new_tokens` each, end-of-sequence ignored) and reports, as median (min-max):

* aggregate decode tok/s: every stream's tokens after its first, over the time from the
  moment every stream had its first token to the last token (the decode phase);
* per-stream decode tok/s: each stream's own tokens after its first over its own span;
* TTFT (from the moment all N were submitted) and inter-token p50/p99, pooled over the
  streams of a run.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import Cancelled, WorkbenchError
from engine.manifest import check_folder
from engine.progress import Reporter
from engine.telemetry.bench import (
    BenchWorker,
    PeerUnavailableError,
    bench_prompt,
)

Log = Callable[[str], None]

#: Streams' prompts start this many tokens apart in the reference text (no shared prefix).
PROMPT_STRIDE = 37
#: The targets of issue 16, checked on every run that has levels 1 and 4.
TARGET_AGGREGATE_C4_OVER_C1 = 3.0
TARGET_ITL_P99_C4_OVER_C1 = 3.0


@dataclass(frozen=True)
class BatchBenchConfig:
    model: Path
    concurrency: tuple[int, ...] = (1, 2, 4)
    prompt_tokens: int = 209
    new_tokens: int = 128
    runs: int = 3
    warmup: int = 1
    threads: int | None = None
    provider: str = "auto"
    vs: list[str] = field(default_factory=list)


def batch_prompts(tokenizer_json: Path, n_tokens: int, count: int) -> list[list[int]]:
    """`count` distinct prompts of exactly `n_tokens` ids, <bos> first, no common prefix."""
    base = bench_prompt(tokenizer_json, n_tokens + count * PROMPT_STRIDE)
    bos, body = base[0], base[1:]
    return [
        [bos, *body[i * PROMPT_STRIDE : i * PROMPT_STRIDE + n_tokens - 1]] for i in range(count)
    ]


def _spread(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"median": 0.0, "min": 0.0, "max": 0.0}
    return {
        "median": float(statistics.median(values)),
        "min": float(min(values)),
        "max": float(max(values)),
    }


def run_metrics(streams: list[dict[str, Any]]) -> dict[str, float]:
    """One run's aggregate numbers from its streams' timings."""
    decoded = sum(len(s["token_latencies_ms"]) for s in streams)
    start = max(s["t_first"] for s in streams)
    end = max(s["t_last"] for s in streams)
    gaps = [g for s in streams for g in s["token_latencies_ms"]]
    p50, p99 = np.percentile(gaps, [50, 99]) if gaps else (0.0, 0.0)
    return {
        "aggregate_decode_tok_s": decoded / (end - start) if end > start else 0.0,
        "itl_p50_ms": float(p50),
        "itl_p99_ms": float(p99),
    }


def summarize_level(concurrency: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A level's entry of the result from the raw runs of one side."""
    metrics = [run_metrics(r["streams"]) for r in runs]
    streams = [s for r in runs for s in r["streams"]]
    return {
        "concurrency": concurrency,
        "runs": len(runs),
        "aggregate_decode_tok_s": _spread([m["aggregate_decode_tok_s"] for m in metrics]),
        "per_stream_decode_tok_s": _spread([s["decode_tok_s"] for s in streams]),
        "ttft_ms": _spread([s["ttft_ms"] for s in streams]),
        "itl_p50_ms": _spread([m["itl_p50_ms"] for m in metrics]),
        "itl_p99_ms": _spread([m["itl_p99_ms"] for m in metrics]),
        "peak_rss_mb": max((r.get("peak_rss_mb", 0.0) for r in runs), default=0.0),
        "token_ids": [s["token_ids"] for s in runs[-1]["streams"]] if runs else [],
    }


def targets(levels: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 16's ratios (concurrency 4 over 1), when both levels ran."""
    by = {level["concurrency"]: level for level in levels if level["runs"]}
    if 1 not in by or 4 not in by:
        return {}
    agg = by[4]["aggregate_decode_tok_s"]["median"] / max(
        by[1]["aggregate_decode_tok_s"]["median"], 1e-9
    )
    itl = by[4]["itl_p99_ms"]["median"] / max(by[1]["itl_p99_ms"]["median"], 1e-9)
    return {
        "aggregate_c4_over_c1": agg,
        "aggregate_target": TARGET_AGGREGATE_C4_OVER_C1,
        "aggregate_met": agg >= TARGET_AGGREGATE_C4_OVER_C1,
        "itl_p99_c4_over_c1": itl,
        "itl_p99_target_below": TARGET_ITL_P99_C4_OVER_C1,
        "itl_p99_met": itl < TARGET_ITL_P99_C4_OVER_C1,
    }


def run_bench_batch(
    config: BatchBenchConfig, log: Log, report: Reporter | None = None
) -> dict[str, Any]:
    """Run every level on every side; a cancel (`report`'s token, or Ctrl+C) returns what
    was measured so far. `report` also gets one progress step per run."""
    from engine.llm.providers import default_threads
    from engine.telemetry.machine import cpu_summary

    levels = sorted(set(config.concurrency))
    if not levels or levels[0] < 1:
        raise WorkbenchError("--concurrency: give levels >= 1 (e.g. 1 2 4 8)")
    if config.prompt_tokens < 2 or config.new_tokens < 2:
        raise WorkbenchError("bench batch needs --prompt-tokens >= 2 and --new-tokens >= 2")
    manifest = check_folder(config.model)
    threads = config.threads or default_threads()
    prompts = batch_prompts(config.model / "tokenizer.json", config.prompt_tokens, levels[-1])
    gguf = str(manifest.source.get("path", ""))
    spec = {
        "model": str(config.model),
        "threads": threads,
        "provider": config.provider,
        "batch_prompts": prompts,
        "new_tokens": config.new_tokens,
        "gguf": gguf,
    }
    out: dict[str, Any] = {
        "cpu": cpu_summary(),
        "model": manifest.name,
        "quantization": manifest.quantization.get("recipe"),
        "prompt_tokens": config.prompt_tokens,
        "new_tokens": config.new_tokens,
        "runs": config.runs,
        "threads": threads,
        "concurrency": levels,
        "cancelled": False,
    }
    sides = ["ours"]
    for peer in config.vs:
        if peer == "llamacpp" and not gguf.endswith(".gguf"):
            out[peer] = {"unavailable": "--vs llamacpp needs a model prepared from a GGUF"}
        else:
            sides.append(peer)
    workers: dict[str, BenchWorker] = {}
    raw: dict[str, dict[int, list[dict[str, Any]]]] = {s: {c: [] for c in levels} for s in sides}
    cancelled = False
    finished, total = 0, (config.warmup + len(levels) * config.runs) * len(sides)

    def step(label: str) -> None:
        nonlocal finished
        if report is not None:
            report("bench batch", finished, total, label)
        finished += 1

    try:
        for side in list(sides):
            log(f"[bench batch] starting {side}")
            try:
                workers[side] = BenchWorker({**spec, "side": side})
            except WorkbenchError as exc:
                if side == "ours":
                    raise
                _drop_peer(out, sides, side, exc, log)
        for side in list(sides):
            for i in range(config.warmup):
                step(f"{side} warm-up")
                log(f"[bench batch] {side} warmup {i + 1} at concurrency {levels[-1]}")
                try:
                    workers[side].ask(f"batch {levels[-1]}")
                except WorkbenchError as exc:
                    if side == "ours":
                        raise
                    _drop_peer(out, sides, side, exc, log)
                    break
        for c in levels:
            for i in range(config.runs):
                for side in list(sides):
                    step(f"{side} concurrency {c}, run {i + 1}")
                    try:
                        run = workers[side].ask(f"batch {c}")
                    except WorkbenchError as exc:
                        if side == "ours":
                            raise
                        _drop_peer(out, sides, side, exc, log)
                        continue
                    raw[side][c].append(run)
                    m = run_metrics(run["streams"])
                    log(
                        f"[bench batch] {side:<8} c={c} run {i + 1}/{config.runs}: aggregate "
                        f"{m['aggregate_decode_tok_s']:.1f} tok/s, itl p99 "
                        f"{m['itl_p99_ms']:.0f} ms, ttft max "
                        f"{max(s['ttft_ms'] for s in run['streams']):.0f} ms"
                    )
        if report is not None:
            report("bench batch", total, total, "done")
    except (KeyboardInterrupt, Cancelled):
        cancelled = True
        log("[bench batch] cancelled: the result holds the runs that finished")
    finally:
        for worker in workers.values():
            worker.close(kill=cancelled)
    out["cancelled"] = cancelled
    for side in sides:
        done = [summarize_level(c, raw[side][c]) for c in levels if raw[side][c]]
        entry: dict[str, Any] = {"levels": done, "targets": targets(done)}
        if side == "ours":
            out["levels"], out["targets"] = entry["levels"], entry["targets"]
        else:
            out[side] = entry
    for peer in sides[1:]:
        ours = {lv["concurrency"]: lv for lv in out["levels"]}
        theirs = {lv["concurrency"]: lv for lv in out[peer]["levels"]}
        out[f"ratio_aggregate_{peer}"] = {
            str(c): ours[c]["aggregate_decode_tok_s"]["median"]
            / max(theirs[c]["aggregate_decode_tok_s"]["median"], 1e-9)
            for c in ours
            if c in theirs
        }
    return out


def _drop_peer(
    out: dict[str, Any], sides: list[str], side: str, exc: WorkbenchError, log: Log
) -> None:
    """A peer that cannot run (or crashed) is reported with its reason; ours goes on."""
    key = "unavailable" if isinstance(exc, PeerUnavailableError) else "crashed"
    log(f"[bench batch] {side} {key}: {exc}")
    out[side] = {key: str(exc)}
    if side in sides:
        sides.remove(side)


def result_notes(result: dict[str, Any]) -> list[str]:
    """What a result says besides its table: a peer that was unavailable or crashed, and
    the issue's targets (the terminal and the benchmark panel show the same lines)."""
    lines: list[str] = []
    for peer in ("llamacpp",):
        for key in ("unavailable", "crashed"):
            if key in result.get(peer, {}):
                lines.append(f"{peer} {key}: {result[peer][key]}")
    t = result.get("targets") or {}
    if t:
        lines.append(
            f"aggregate c4/c1 x{t['aggregate_c4_over_c1']:.2f} (target >= "
            f"{t['aggregate_target']:.0f}: {'met' if t['aggregate_met'] else 'NOT met'}); "
            f"itl p99 c4/c1 x{t['itl_p99_c4_over_c1']:.2f} (target < "
            f"{t['itl_p99_target_below']:.0f}: {'met' if t['itl_p99_met'] else 'NOT met'})"
        )
    return lines


def format_table(result: dict[str, Any]) -> str:
    cpu = result.get("cpu", {})
    lines = [
        f"model {result['model']} ({result['quantization']}), prompt {result['prompt_tokens']} "
        f"tok, {result['new_tokens']} new tok per stream, {result['runs']} runs, "
        f"{result['threads']} threads",
        f"cpu {cpu.get('model', '?')} [{' '.join(cpu.get('flags', []))}]",
        f"{'engine':<9} {'streams':>7} {'aggregate tok/s':>22} {'per stream tok/s':>18} "
        f"{'ttft ms':>8} {'itl p50':>8} {'itl p99':>8}",
    ]
    sides = [("ours", result.get("levels", []))]
    for peer in ("llamacpp",):
        if peer in result:
            sides.append((peer, result[peer].get("levels", [])))
    for side, levels in sides:
        for lv in levels:
            agg = lv["aggregate_decode_tok_s"]
            lines.append(
                f"{side:<9} {lv['concurrency']:>7} {agg['median']:>8.1f} "
                f"({agg['min']:.1f}-{agg['max']:.1f}){'':>2} "
                f"{lv['per_stream_decode_tok_s']['median']:>18.1f} "
                f"{lv['ttft_ms']['median']:>8.0f} {lv['itl_p50_ms']['median']:>8.1f} "
                f"{lv['itl_p99_ms']['median']:>8.1f}"
            )
    lines += result_notes(result)
    if result.get("cancelled"):
        lines.append("cancelled: partial result")
    return "\n".join(lines)
