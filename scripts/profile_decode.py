"""What one decoded token costs: ONNX Runtime's operator profile and the Python around it.

    python scripts/profile_decode.py [--model default] [--tokens 64] [--batch 1] [--threads 2]

A measurement, not a test. With `--batch 1` it runs `LLMSession.generate` (209-token
prompt, greedy, end-of-sequence ignored) with ORT's profiler on; with `--batch N` it runs
N streams in a `BatchSession`. For the decode steps it reports:

* the wall time per step (from the token events) and the time inside `session.run`
  (ORT's `model_run` events): their difference is what Python costs per step
  (binding inputs, reading the re-scored rows, sampling, detokenizing, events);
* the kernel time per step by operator type and the slowest nodes; the rest of a
  `model_run` (run time minus kernel time) is ORT's own dispatch and thread hand-offs.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=209)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from engine.llm.batch import BatchSession
    from engine.llm.events import TokenDelta
    from engine.llm.session import LLMSession
    from engine.manifest import model_folder
    from engine.telemetry.bench_batch import batch_prompts

    folder = model_folder(args.model)
    prompts = batch_prompts(folder / "tokenizer.json", args.prompt_tokens, args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        session = LLMSession(folder, provider="cpu", threads=args.threads, profile_dir=Path(tmp))
        step_times: list[float] = []
        if args.batch == 1:
            for event in session.generate(
                prompts[0], max_new_tokens=args.tokens, ignore_eos=True, reuse_cache=False
            ):
                if isinstance(event, TokenDelta) and event.token_id >= 0:
                    step_times.append(event.t)
        else:
            batch = BatchSession(session, max_sequences=args.batch)
            seqs = [
                batch.submit(p, max_new_tokens=args.tokens, ignore_eos=True, reuse_cache=False)
                for p in prompts
            ]
            last = seqs[-1]  # a wave decodes once its last stream has its first token
            for seq, event in batch.run():
                if seq is last and isinstance(event, TokenDelta) and event.token_id >= 0:
                    step_times.append(event.t)
        t_end = time.monotonic()
        profile = session.end_profiling()
        assert profile is not None
        raw = json.loads(profile.path.read_text(encoding="utf-8"))
    report = analyse(raw, profile.start, step_times, t_end, args.batch)
    report.update(model=folder.name, threads=args.threads, tokens=args.tokens)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))


def analyse(
    raw: list[dict[str, Any]], start: float, times: list[float], t_end: float, batch: int
) -> dict[str, Any]:
    """Decode steps only: the runs that began after the first token (the prefill is out)."""
    first = times[0]
    runs = [
        ev for ev in raw if ev.get("name") == "model_run" and start + float(ev["ts"]) / 1e6 > first
    ]
    # Skip the last runs of a batch whose other streams finished (the steady state only).
    runs = runs[: len(times) - 1]
    if not runs:
        raise SystemExit("no decode steps were profiled: ask for more --tokens")
    lo = float(runs[0]["ts"])
    hi = float(runs[-1]["ts"]) + float(runs[-1]["dur"])
    by_op: dict[str, float] = collections.defaultdict(float)
    by_node: dict[str, float] = collections.defaultdict(float)
    nodes = 0
    for ev in raw:
        if ev.get("cat") != "Node" or not lo <= float(ev["ts"]) <= hi:
            continue
        dur = float(ev.get("dur", 0))
        by_op[ev.get("args", {}).get("op_name", "?")] += dur
        by_node[str(ev["name"]).removesuffix("_kernel_time")] += dur
        nodes += 1
    steps = len(runs)
    run_ms = statistics.mean(float(r["dur"]) for r in runs) / 1000.0
    kernel_ms = sum(by_op.values()) / steps / 1000.0
    gaps = [(b - a) * 1000.0 for a, b in itertools.pairwise(times)][:steps]
    step_ms = statistics.mean(gaps)
    return {
        "batch": batch,
        "steps": steps,
        "step_ms": step_ms,
        "model_run_ms": run_ms,
        "kernel_ms": kernel_ms,
        "ort_overhead_ms": run_ms - kernel_ms,
        "python_ms": step_ms - run_ms,
        "kernels_per_step": nodes / steps,
        "by_op_ms": {
            op: t / steps / 1000.0 for op, t in sorted(by_op.items(), key=lambda kv: -kv[1])
        },
        "top_nodes_ms": {
            n: t / steps / 1000.0 for n, t in sorted(by_node.items(), key=lambda kv: -kv[1])[:12]
        },
    }


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['model']}: {r['steps']} decode steps of batch {r['batch']}",
        f"step {r['step_ms']:.2f} ms = session.run {r['model_run_ms']:.2f} ms "
        f"(kernels {r['kernel_ms']:.2f} ms, {r['kernels_per_step']:.0f} kernels; "
        f"ORT between kernels {r['ort_overhead_ms']:.2f} ms) + Python {r['python_ms']:.2f} ms",
        "kernel time per step by operator:",
    ]
    for op, ms in r["by_op_ms"].items():
        lines.append(f"  {op:<32} {ms:7.3f} ms  {100 * ms / r['kernel_ms']:5.1f}%")
    lines.append("slowest nodes per step:")
    for node, ms in r["top_nodes_ms"].items():
        lines.append(f"  {node:<60} {ms:7.3f} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
