"""`bench`: our loop side by side with peer engines, runs alternating, one process per side.

Each side lives in its own worker process (engine.telemetry.bench_worker) for the whole
benchmark, so its peak RSS is its own and no side pays another's load time; runs
alternate between sides so that a noisy neighbour hurts both equally.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.manifest import check_folder

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    model: Path
    prompt_tokens: int = 209
    new_tokens: int = 128
    runs: int = 3
    threads: int | None = None
    provider: str = "auto"
    vs: list[str] = field(default_factory=list)
    warmup: int = 1


def bench_prompt(tokenizer_json: Path, n_tokens: int) -> list[int]:
    """Exactly `n_tokens` ids of the reference text (repeated as needed), <bos> first."""
    from tokenizers import Tokenizer

    from engine.models.validate import reference_text

    tok = Tokenizer.from_file(str(tokenizer_json))
    ids = list(tok.encode(reference_text()).ids)
    body = ids[1:] if len(ids) > 1 else ids
    while len(ids) < n_tokens:
        ids += body
    return ids[:n_tokens]


#: llama.cpp built with GGML_NATIVE on an AMX CPU runs its AMX backend, which crashes
#: (SIGSEGV in ggml_backend_amx_mul_mat); this build keeps AVX-512 and leaves AMX out.
LLAMACPP_NO_AMX_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON "
    "-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
)


#: The line a llama.cpp bench side writes to stderr first: its build's system info.
LLAMACPP_INFO = "[llama.cpp system info]"


class PeerUnavailableError(WorkbenchError):
    """A peer side cannot run on this machine; the message says why and how to fix it."""


def explain_exit(side: str, code: int, flags: list[str], stderr_tail: str = "") -> str:
    """Why a bench side's process died, and what to do about it."""
    import signal

    try:
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited ({code})"
    except ValueError:
        how = f"exited (code {code})"
    message = f"bench side {side!r} crashed: its process {how}"
    last = [line for line in stderr_tail.splitlines() if not line.startswith(LLAMACPP_INFO)]
    if "".join(last).strip():
        message += f"; its last output: {chr(10).join(last).strip()[-600:]}"
    info = next((line for line in stderr_tail.splitlines() if line.startswith(LLAMACPP_INFO)), "")
    built_without_amx = bool(info) and "AMX" not in info
    if side == "llamacpp" and code in (-11, -4, -7) and built_without_amx:
        message += (
            ". This llama.cpp was built without AMX "
            f"({info.removeprefix(LLAMACPP_INFO).strip()[:200]}), so this is not the known "
            "AMX crash: run `python main.py bench` alone to see if it repeats, and report it"
        )
    elif side == "llamacpp" and code in (-11, -4, -7) and "amx_tile" in flags:
        message += (
            ". This CPU has AMX, and llama.cpp built for the native CPU runs its AMX backend, "
            "which crashes (SIGSEGV in ggml_backend_amx_mul_mat). Rebuild llama-cpp-python "
            "without AMX but with AVX-512: `python bootstrap.py peers` does it, or "
            f'CMAKE_ARGS="{LLAMACPP_NO_AMX_CMAKE_ARGS}" pip install --force-reinstall '
            "--no-cache-dir --no-binary llama-cpp-python llama-cpp-python"
        )
    elif side == "llamacpp" and code in (-11, -4):
        message += (
            ". llama.cpp was probably built for another CPU (an instruction this one lacks): "
            'rebuild it for this machine with CMAKE_ARGS="-DGGML_NATIVE=ON" pip install '
            "--force-reinstall --no-cache-dir llama-cpp-python"
        )
    return message


class BenchWorker:
    def __init__(
        self,
        spec: dict[str, Any],
        on_start: Callable[[int], None] | None = None,
        command: list[str] | None = None,
    ) -> None:
        """Start the worker and wait until its engine is loaded (`on_start(pid)` before).

        `command` replaces the worker module (tests run a process that really crashes).
        """
        import tempfile

        self.side = spec["side"]
        # Its stderr goes to a file: read back when it crashes (a pipe could fill up).
        self._stderr = tempfile.TemporaryFile(  # noqa: SIM115 - closed in close()
            mode="w+", encoding="utf-8", errors="replace"
        )
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "engine.telemetry.bench_worker", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        if on_start is not None:
            on_start(self.proc.pid)
        try:
            hello = self._read()
        except BaseException:  # it died while loading, or Ctrl+C: leave nothing open
            self.close(kill=True)
            raise
        if "error" in hello:
            self.close()
            if hello.get("unavailable"):
                raise PeerUnavailableError(f"{self.side}: {hello['error']}")
            raise WorkbenchError(f"bench side {self.side!r} could not start: {hello['error']}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            from engine.telemetry.machine import cpu_flags

            code = self.proc.wait()
            self._stderr.seek(0)
            raise WorkbenchError(explain_exit(self.side, code, cpu_flags(), self._stderr.read()))
        data: dict[str, Any] = json.loads(line)
        return data

    def run(self) -> dict[str, Any]:
        return self.ask("run")

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self, kill: bool = False) -> None:
        """End the worker: after its current run, or at once with `kill` (a cancel)."""
        if kill and self.proc.poll() is None:
            self.proc.kill()
        if self.proc.stdin:
            with contextlib.suppress(BrokenPipeError):  # it is already gone
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()  # else its pipe is left to the garbage collector
        self._stderr.close()


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_bench(config: BenchConfig, log: Log) -> dict[str, Any]:
    manifest = check_folder(config.model)
    ids = bench_prompt(config.model / "tokenizer.json", config.prompt_tokens)
    from engine.llm.providers import default_threads

    threads = config.threads or default_threads()
    base = {
        "model": str(config.model),
        "threads": threads,
        "provider": config.provider,
        "prompt_ids": ids,
        "new_tokens": config.new_tokens,
        "gguf": manifest.source.get("path", ""),
    }
    sides = ["ours", *config.vs]
    if "llamacpp" in sides and not str(base["gguf"]).endswith(".gguf"):
        raise WorkbenchError("--vs llamacpp needs a model prepared from a GGUF source")
    workers: dict[str, BenchWorker] = {}
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    try:
        for side in sides:
            log(f"[bench] starting {side}")
            workers[side] = BenchWorker({**base, "side": side})
        for i in range(config.warmup + config.runs):
            for side in sides:
                run = workers[side].run()
                label = "warmup" if i < config.warmup else f"run {i - config.warmup + 1}"
                log(
                    f"[bench] {side:<9} {label}: prefill {run['prefill_tok_s']:.0f} tok/s, "
                    f"decode {run['decode_tok_s']:.1f} tok/s, ttft {run['ttft_ms']:.0f} ms"
                )
                if i >= config.warmup:
                    results[side].append(run)
    finally:
        for worker in workers.values():
            worker.close()
    from engine.telemetry.machine import cpu_summary

    out: dict[str, Any] = {
        "cpu": cpu_summary(),
        "model": manifest.name,
        "quantization": manifest.quantization.get("recipe"),
        "prompt_tokens": len(ids),
        "new_tokens": config.new_tokens,
        "runs": config.runs,
        "threads": threads,
    }
    for side, runs in results.items():
        out[side] = {
            "decode_tok_s": _spread([r["decode_tok_s"] for r in runs]),
            "prefill_tok_s": _spread([r["prefill_tok_s"] for r in runs]),
            "ttft_ms": _spread([r["ttft_ms"] for r in runs]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "provider": runs[-1]["provider"],
            "token_ids": runs[-1]["token_ids"],
        }
    for peer in config.vs:
        ours, theirs = out["ours"], out[peer]
        out[f"ratio_decode_{peer}"] = (
            ours["decode_tok_s"]["median"] / theirs["decode_tok_s"]["median"]
        )
        out[f"ratio_prefill_{peer}"] = (
            ours["prefill_tok_s"]["median"] / theirs["prefill_tok_s"]["median"]
        )
        out[f"same_tokens_{peer}"] = _common_prefix(ours["token_ids"], theirs["token_ids"])
    if "optimum" in config.vs:  # the documented --vs optimum contract
        out["ratio_decode"] = out["ratio_decode_optimum"]
        out["ratio_prefill"] = out["ratio_prefill_optimum"]
    return out


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def format_table(result: dict[str, Any]) -> str:
    sides = [s for s in ("ours", "optimum", "llamacpp") if s in result]
    lines = [
        f"model {result['model']} ({result['quantization']}), prompt {result['prompt_tokens']} "
        f"tok, {result['new_tokens']} new tok, {result['runs']} runs, {result['threads']} threads",
        f"{'engine':<10} {'prefill tok/s':>22} {'decode tok/s':>22} {'ttft ms':>10} "
        f"{'peak RSS MB':>12}",
    ]
    for side in sides:
        r = result[side]
        pf, dc = r["prefill_tok_s"], r["decode_tok_s"]
        lines.append(
            f"{side:<10} {pf['median']:>8.0f} ({pf['min']:.0f}-{pf['max']:.0f}){'':>4} "
            f"{dc['median']:>8.1f} ({dc['min']:.1f}-{dc['max']:.1f}){'':>2} "
            f"{r['ttft_ms']['median']:>10.0f} {r['peak_rss_mb']:>12.0f}"
        )
    for side in sides[1:]:
        lines.append(
            f"ours / {side}: decode x{result['ratio_decode_' + side]:.2f}, "
            f"prefill x{result['ratio_prefill_' + side]:.2f}; identical first "
            f"{result['same_tokens_' + side]} tokens"
        )
    return "\n".join(lines)
