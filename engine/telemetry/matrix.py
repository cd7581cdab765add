"""`bench matrix`: providers x prepared quantizations x thread counts, several runs each.

Like llama.cpp's llama-bench: every combination gets its own worker process (so its peak
RSS is its own), warm-up runs, then `runs` measured repetitions reported as median and
min-max. Providers are those this onnxruntime build has; one that does not really start
(the session falls back to another) is skipped with the reason. The quantizations of a
model are the prepared folders next to it built from the same source. Every measured
generation is recorded into the profiling session with the hardware counters around it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import Cancelled, WorkbenchError
from engine.llm.events import GenerationFinished, GenerationStats, TokenDelta
from engine.manifest import Manifest, check_folder
from engine.progress import Reporter
from engine.telemetry.bench import BenchWorker, bench_prompt
from engine.telemetry.recorder import Recorder
from engine.telemetry.session_file import ProfileSession

Log = Callable[[str], None]
SPREAD_KEYS = ("ttft_ms", "prefill_tok_s", "decode_tok_s")


@dataclass(frozen=True)
class MatrixConfig:
    models: tuple[Path, ...]
    threads: tuple[int, ...] = ()  # empty: the default thread count only
    providers: tuple[str, ...] = ()  # empty: every provider this onnxruntime build has
    runs: int = 3
    warmup: int = 1
    prompt_tokens: tuple[int, ...] = (209,)  # a sweep, like llama-bench's -p 128,512
    new_tokens: int = 128
    siblings: bool = True  # also the other prepared quantizations of each model


@dataclass(frozen=True)
class Combo:
    model: Path
    manifest: Manifest
    provider: str
    threads: int
    prompt_tokens: int

    @property
    def label(self) -> str:
        quant = self.manifest.quantization.get("recipe", "?")
        return (
            f"{self.manifest.name} [{quant}] {self.provider} t{self.threads} p{self.prompt_tokens}"
        )


def quantizations(model: Path) -> list[Path]:
    """`model` and the prepared folders beside it made from the same source, by name."""
    from engine.manifest import quantizations as siblings

    return siblings(model)


def providers(requested: tuple[str, ...]) -> tuple[list[str], list[dict[str, str]]]:
    """Providers to try, and those skipped up front with the reason."""
    from engine.llm.providers import AUTO_ORDER, PROVIDERS, candidates, normalize

    wanted = [normalize(p) for p in requested] or list(AUTO_ORDER)
    chosen, skipped = [], []
    for name in dict.fromkeys(wanted):
        if name == "auto":
            raise WorkbenchError("bench matrix takes explicit providers (cpu, cuda, dml), not auto")
        compiled, reasons = candidates(name)
        if PROVIDERS[name] in compiled:
            chosen.append(name)
        else:
            skipped.append({"provider": name, "reason": "; ".join(reasons) or "not available"})
    return chosen, skipped


def plan(config: MatrixConfig) -> tuple[list[Combo], list[dict[str, str]]]:
    from engine.llm.providers import default_threads

    if not config.models:
        raise WorkbenchError("bench matrix needs at least one --model")
    if config.runs < 1:
        raise WorkbenchError("--runs must be at least 1")
    folders: list[Path] = []
    for model in config.models:
        for folder in quantizations(model) if config.siblings else [model]:
            if folder not in folders:
                folders.append(folder)
    chosen, skipped = providers(config.providers)
    threads = list(dict.fromkeys(config.threads)) or [default_threads()]
    if any(t < 1 for t in threads):
        raise WorkbenchError("--threads values must be at least 1")
    prompts = list(dict.fromkeys(config.prompt_tokens))
    if not prompts or any(n < 1 for n in prompts):
        raise WorkbenchError("--prompt-tokens values must be at least 1")
    combos = [
        Combo(folder, check_folder(folder), provider, t, n)
        for folder in folders
        for provider in chosen
        for t in threads
        for n in prompts
    ]
    return combos, skipped


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def _record(recorder: Recorder, result: dict[str, Any]) -> None:
    """A worker's generation as engine events on the shared monotonic clock."""
    data = dict(result["stats"])
    data["token_latencies_ms"] = tuple(data.get("token_latencies_ms", ()))
    st = GenerationStats(**data)
    t = st.t_first_token
    for i, token in enumerate(result["token_ids"]):
        if i:
            t += st.token_latencies_ms[i - 1] / 1000.0
        recorder.record(TokenDelta("", int(token), i, t))
    recorder.record(GenerationFinished("", tuple(result["token_ids"]), "max_tokens", st, st.t_end))


def _fallback(combo: Combo, result: dict[str, Any]) -> dict[str, str]:
    reasons = "; ".join(result["provider_report"]["reasons"])
    return {
        "provider": combo.provider,
        "model": combo.manifest.name,
        "reason": reasons or f"the session fell back to {result['provider']}",
    }


def _row(combo: Combo, runs: list[dict[str, Any]]) -> dict[str, Any]:
    gpu = [r["gpu_mem_mb"] for r in runs if r.get("gpu_mem_mb") is not None]
    return {
        "model": combo.manifest.name,
        "quantization": combo.manifest.quantization.get("recipe"),
        "agreement": combo.manifest.validation.get("top1_agreement"),
        "provider": combo.provider,
        "threads": combo.threads,
        "prompt_tokens": combo.prompt_tokens,
        "runs": len(runs),
        **{key: _spread([r[key] for r in runs]) for key in SPREAD_KEYS},
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "gpu_mem_mb": max(gpu) if gpu else None,
    }


def _run_combo(
    combo: Combo,
    ids: list[int],
    config: MatrixConfig,
    recorder: Recorder,
    progress: Callable[[str], None],
    log: Log,
    measured: list[dict[str, Any]],
    on_worker: Callable[[int | None], None],
) -> dict[str, str] | None:
    """Warm-up and measured runs (appended to `measured`) of one combination in its own
    worker process; returns why it was skipped when its provider did not really start."""
    spec = {
        "side": "ours",
        "model": str(combo.model),
        "threads": combo.threads,
        "provider": combo.provider,
        "prompt_ids": ids,
        "new_tokens": config.new_tokens,
    }
    with recorder.run(combo.label, kind="bench") as run:
        run.manifest = combo.manifest.to_dict()
        run.extra = {"threads": combo.threads}
        recorder.mark("model_load_started", model=combo.manifest.name)
        try:
            # its own process (watched from its start), so the load shows in the timeline
            worker = BenchWorker(spec, on_start=on_worker)
        except WorkbenchError:
            on_worker(None)
            raise
        recorder.mark("model_load_finished")
        try:
            for i in range(config.warmup + config.runs):
                result = worker.run()
                run.provider = result["provider_report"]
                if result["provider"] != combo.provider:
                    return _fallback(combo, result)
                if i >= config.warmup:
                    measured.append(result)
                    _record(recorder, result)
                kind = "warm-up" if i < config.warmup else f"run {i - config.warmup + 1}"
                log(
                    f"[matrix] {combo.label} {kind}: ttft {result['ttft_ms']:.0f} ms, "
                    f"prefill {result['prefill_tok_s']:.0f} tok/s, "
                    f"decode {result['decode_tok_s']:.1f} tok/s"
                )
                progress(combo.label)
        finally:
            on_worker(None)
            worker.close()
            run.extra["measured_runs"] = len(measured)
    return None


def run_matrix(
    config: MatrixConfig,
    recorder: Recorder,
    report: Reporter,
    log: Log,
    on_worker: Callable[[int | None], None] = lambda pid: None,
) -> dict[str, Any]:
    """Run every combination; `on_worker(pid)` is told which worker process is running
    (a `ProcessSource.watch`, so the session charts the worker's own CPU and memory)."""
    combos, skipped = plan(config)
    total = len(combos) * (config.warmup + config.runs)
    rows: list[dict[str, Any]] = []
    done = 0
    cancelled = False

    def progress(label: str) -> None:
        nonlocal done
        done += 1
        report("matrix", done, total, label)

    try:
        for n, combo in enumerate(combos):
            done = n * (config.warmup + config.runs)
            report("matrix", done, total, combo.label)
            ids = bench_prompt(combo.model / "tokenizer.json", combo.prompt_tokens)
            measured: list[dict[str, Any]] = []
            fallback = None
            try:
                fallback = _run_combo(
                    combo, ids, config, recorder, progress, log, measured, on_worker
                )
            except Cancelled:
                raise
            except WorkbenchError as exc:  # one broken combination does not stop the rest
                log(f"[matrix] {combo.label} failed: {exc}")
                fallback = {"provider": combo.provider, "model": combo.manifest.name,
                            "reason": f"failed: {exc}"}  # fmt: skip
            finally:  # a combination cut short keeps the runs it finished
                if measured:
                    rows.append(_row(combo, measured))
            if fallback is not None:
                skipped.append(fallback)
    except (Cancelled, KeyboardInterrupt):
        cancelled = True
        log("[matrix] cancelled: keeping the combinations that finished")
    if not cancelled:
        report("matrix", total, total, "done")
    return {
        "prompt_tokens": list(config.prompt_tokens),
        "new_tokens": config.new_tokens,
        "runs": config.runs,
        "warmup": config.warmup,
        "rows": rows,
        "skipped": skipped,
        "cancelled": cancelled,
    }


def _cell(spread: dict[str, float], digits: int) -> str:
    return (
        f"{spread['median']:,.{digits}f} ({spread['min']:,.{digits}f}-{spread['max']:,.{digits}f})"
    )


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['new_tokens']} new tok, "
        f"{result['runs']} runs (+{result['warmup']} warm-up) per row; median (min-max)",
        "",
        "| model | quant | provider | threads | prompt | TTFT ms | prefill tok/s | decode tok/s "
        "| peak RSS MB | GPU MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        gpu = f"{r['gpu_mem_mb']:.0f}" if r["gpu_mem_mb"] is not None else "n/a"
        lines.append(
            f"| {r['model']} | {r['quantization']} | {r['provider']} | {r['threads']} "
            f"| {r.get('prompt_tokens', '')} "
            f"| {_cell(r['ttft_ms'], 0)} | {_cell(r['prefill_tok_s'], 0)} "
            f"| {_cell(r['decode_tok_s'], 1)} | {r['peak_rss_mb']:.0f} | {gpu} |"
        )
    for s in result["skipped"]:
        lines.append(f"skipped {s.get('model', 'all models')} on {s['provider']}: {s['reason']}")
    if result["cancelled"]:
        lines.append("cancelled: the table holds the combinations that finished")
    return "\n".join(lines)


def record_matrix(
    config: MatrixConfig, report: Reporter, log: Log, command: Sequence[str]
) -> tuple[dict[str, Any], ProfileSession]:
    """`bench matrix` as the CLI and the window run it: every combination under a recorder
    whose counters follow each worker process; the result is also the session's
    `extra["matrix"]`. Returns (result, the session, not saved yet)."""
    from engine.telemetry.sampler import HardwareSampler
    from engine.telemetry.sources import ProcessSource, default_sources

    worker = ProcessSource("worker")  # each combination's worker process, in turn
    sampler = HardwareSampler([*default_sources(), worker], rate_hz=10.0, seconds=3600.0)
    recorder = Recorder("bench matrix", sampler, command=list(command))
    with recorder:
        result = run_matrix(config, recorder, report, log, worker.watch)
    recorder.extra["matrix"] = result
    return result, recorder.finish()
