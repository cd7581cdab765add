"""One side of a side-by-side benchmark, in its own process (so its peak RSS is its own).

Started by `engine.telemetry.bench` with a JSON spec as argv[1]; it loads its engine,
prints `{"ready": ...}`, then answers each `run` line on stdin with one JSON line of
timings. Sides: `ours` (LLMSession), `optimum` (ORTModelForCausalLM.generate on the same
ONNX file), `llamacpp` (llama-cpp-python on the source GGUF).

`bench batch` sends `batch N` instead: N prompts (spec `batch_prompts`) generated together,
answered with each stream's timings. Sides: `ours` (BatchSession) and `llamacpp` (its own
batched decoding: one context, one sequence id per stream, one llama_decode per step).
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from engine.llm.stats import peak_rss_mb
from engine.telemetry.bench import LLAMACPP_INFO

Runner = Callable[[], dict[str, Any]]
BatchRunner = Callable[[int], dict[str, Any]]


class PeerUnavailable(Exception):
    """This side cannot run here; the message says why (and how to make it run)."""


def _ours(spec: dict[str, Any]) -> Runner:
    from engine.llm.events import GenerationFinished
    from engine.llm.session import LLMSession

    session = LLMSession(spec["model"], provider=spec["provider"], threads=spec["threads"])
    ids = spec["prompt_ids"]
    gpu_memory = _gpu_memory_probe()

    def run() -> dict[str, Any]:
        finished = None
        for event in session.generate(
            ids, max_new_tokens=spec["new_tokens"], reuse_cache=False, ignore_eos=True
        ):
            if isinstance(event, GenerationFinished):
                finished = event
        assert finished is not None
        st = finished.stats
        return {
            "stats": st.to_dict(latencies=True),
            "provider_report": session.provider.to_dict(),
            "gpu_mem_mb": gpu_memory(),
            "ttft_ms": st.ttft_ms,
            "prefill_tok_s": st.prefill_tok_s,
            "decode_tok_s": st.decode_tok_s,
            "new_tokens": st.new_tokens,
            "token_ids": list(finished.token_ids),
            "provider": st.provider,
        }

    return run


def _gpu_memory_probe() -> Callable[[], float | None]:
    """This process's GPU memory (MB) from the first GPU counter source that works here."""
    from engine.telemetry.gpu_nvidia import NvmlSource
    from engine.telemetry.gpu_windows import PdhSource

    for source, channel in (
        (NvmlSource(), "process_mem_mb"),
        (PdhSource(), "process_dedicated_mb"),
    ):
        if source.available:
            index = [c.name for c in source.channels].index(channel)
            return lambda: float(source.read()[index])
    return lambda: None


class _Clock:
    """A transformers streamer that only records when each token arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value: Any) -> None:
        self.times.append(time.monotonic())

    def end(self) -> None:
        pass


def _optimum(spec: dict[str, Any]) -> Runner:
    import onnxruntime as ort
    import torch
    from optimum.onnxruntime import ORTModelForCausalLM

    from engine.llm.providers import PROVIDERS, candidates, session_options

    opts: ort.SessionOptions = session_options(spec["threads"])
    provider = candidates(spec["provider"])[0][0]
    model = ORTModelForCausalLM.from_pretrained(
        spec["model"],
        file_name="model.onnx",
        use_cache=True,
        provider=provider,
        session_options=opts,
        use_io_binding=provider != PROVIDERS["cpu"],
    )
    ids = torch.tensor([spec["prompt_ids"]], dtype=torch.long)
    mask = torch.ones_like(ids)
    n_new = spec["new_tokens"]

    def run() -> dict[str, Any]:
        clock = _Clock()
        start = time.monotonic()
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=n_new,
            min_new_tokens=n_new,
            do_sample=False,
            streamer=clock,
            pad_token_id=0,
        )
        new = out[0, ids.shape[1] :].tolist()
        token_times = clock.times[1:]  # the first put() is the prompt
        first = token_times[0]
        decode_s = token_times[-1] - first
        return {
            "ttft_ms": (first - start) * 1000.0,
            "prefill_tok_s": ids.shape[1] / (first - start),
            "decode_tok_s": (len(token_times) - 1) / decode_s if decode_s > 0 else 0.0,
            "new_tokens": len(new),
            "token_ids": new,
            "provider": provider,
        }

    return run


def _llamacpp_system_info() -> None:
    """How this llama.cpp was built (AMX or not), on stderr: a crash report reads it back."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    sys.stderr.write(f"{LLAMACPP_INFO} {info}\n")
    sys.stderr.flush()


def _llamacpp(spec: dict[str, Any]) -> Runner:
    import numpy as np
    from llama_cpp import Llama

    _llamacpp_system_info()

    ids = spec["prompt_ids"]
    n_new = spec["new_tokens"]
    llm = Llama(
        model_path=spec["gguf"],
        n_ctx=len(ids) + n_new + 16,
        n_batch=max(512, len(ids)),
        n_threads=spec["threads"],
        n_threads_batch=spec["threads"],
        verbose=False,
        logits_all=False,
    )
    n_vocab = llm.n_vocab()

    def last_logits() -> np.ndarray:
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))

    def run() -> dict[str, Any]:
        llm.reset()
        start = time.monotonic()
        llm.eval(ids)
        token = int(last_logits().argmax())
        first = time.monotonic()
        new = [token]
        while len(new) < n_new:
            llm.eval([token])
            token = int(last_logits().argmax())
            new.append(token)
        end = time.monotonic()
        return {
            "ttft_ms": (first - start) * 1000.0,
            "prefill_tok_s": len(ids) / (first - start),
            "decode_tok_s": (len(new) - 1) / (end - first) if end > first else 0.0,
            "new_tokens": len(new),
            "token_ids": new,
            "provider": "cpu (llama.cpp)",
        }

    return run


def _stream(
    t_start: float, times: list[float], token_ids: list[int], prompt_tokens: int
) -> dict[str, Any]:
    """One stream's timings from the monotonic times its tokens arrived."""
    first, last = times[0], times[-1]
    gaps = [(b - a) * 1000.0 for a, b in itertools.pairwise(times)]
    return {
        "prompt_tokens": prompt_tokens,
        "new_tokens": len(token_ids),
        "ttft_ms": (first - t_start) * 1000.0,
        "decode_tok_s": len(gaps) / (last - first) if last > first else 0.0,
        "token_latencies_ms": gaps,
        "t_start": t_start,
        "t_first": first,
        "t_last": last,
        "token_ids": token_ids,
    }


def _ours_batch(spec: dict[str, Any]) -> BatchRunner:
    from engine.llm.batch import BatchSession
    from engine.llm.events import TokenDelta
    from engine.llm.session import LLMSession

    session = LLMSession(spec["model"], provider=spec["provider"], threads=spec["threads"])
    prompts = spec["batch_prompts"]
    batch = BatchSession(session, max_sequences=len(prompts))

    def run(n: int) -> dict[str, Any]:
        start = time.monotonic()
        seqs = [
            batch.submit(p, max_new_tokens=spec["new_tokens"], reuse_cache=False, ignore_eos=True)
            for p in prompts[:n]
        ]
        times: dict[int, list[float]] = {s.number: [] for s in seqs}
        for seq, event in batch.run():
            if isinstance(event, TokenDelta) and event.token_id >= 0:
                times[seq.number].append(event.t)
        streams = []
        for seq in seqs:
            finished = seq.result()
            stream = _stream(start, times[seq.number], list(finished.token_ids), len(seq.ids))
            stream["ttft_ms"] = finished.stats.ttft_ms
            streams.append(stream)
        return {"streams": streams, "provider": session.provider.active}

    return run


def _llamacpp_batch(spec: dict[str, Any]) -> BatchRunner:
    """llama.cpp's own batched decoding through llama-cpp-python's low-level API."""
    import ctypes

    import numpy as np

    try:
        import llama_cpp
    except ImportError as exc:
        raise PeerUnavailable(
            f"llama-cpp-python is not installed ({exc}); install the peers extra: "
            "python bootstrap.py peers"
        ) from exc
    needed = (
        "llama_batch_init",
        "llama_batch_free",
        "llama_decode",
        "llama_get_logits_ith",
        "llama_context_default_params",
    )
    missing = [name for name in needed if not hasattr(llama_cpp, name)]
    clear = getattr(llama_cpp, "llama_memory_clear", None)
    get_memory = getattr(llama_cpp, "llama_get_memory", None)
    legacy_clear = getattr(llama_cpp, "llama_kv_self_clear", None) or getattr(
        llama_cpp, "llama_kv_cache_clear", None
    )
    if missing or not ((clear and get_memory) or legacy_clear):
        raise PeerUnavailable(
            f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')} lacks the batch API "
            f"({', '.join(missing) or 'a KV-cache clear function'}); upgrade it"
        )
    _llamacpp_system_info()
    prompts: list[list[int]] = spec["batch_prompts"]
    n_new = spec["new_tokens"]
    n_seq = len(prompts)
    per_seq = max(len(p) for p in prompts) + n_new + 16
    # Llama loads the model (its own small context stays unused); ours has n_seq streams.
    llm = llama_cpp.Llama(
        model_path=spec["gguf"],
        n_ctx=64,
        n_batch=64,
        n_threads=spec["threads"],
        n_threads_batch=spec["threads"],
        verbose=False,
    )
    if not hasattr(llama_cpp, "llama_init_from_model"):
        raise PeerUnavailable(
            f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')} has no "
            "llama_init_from_model; upgrade it"
        )
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = per_seq * n_seq
    params.n_batch = max(512, sum(len(p) for p in prompts))
    params.n_ubatch = params.n_batch
    params.n_seq_max = n_seq
    params.n_threads = params.n_threads_batch = spec["threads"]
    ctx = llama_cpp.llama_init_from_model(llm.model, params)
    if not ctx:
        raise PeerUnavailable("llama.cpp could not create a context with n_seq_max streams")
    n_vocab = llm.n_vocab()
    batch = llama_cpp.llama_batch_init(int(params.n_batch), 0, n_seq)

    def reset() -> None:
        if clear is not None and get_memory is not None:
            clear(get_memory(ctx), True)
        elif legacy_clear is not None:
            legacy_clear(ctx)

    def decode(rows: list[tuple[int, int, int, bool]]) -> None:
        """rows: (token, position, sequence, wants logits)."""
        batch.n_tokens = len(rows)
        for i, (token, pos, seq, logits) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        code = llama_cpp.llama_decode(ctx, batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")

    def argmax(i: int) -> int:
        ptr = llama_cpp.llama_get_logits_ith(ctx, i)
        row = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), (n_vocab,))
        return int(row.argmax())

    def run(n: int) -> dict[str, Any]:
        assert llm.model  # the model must outlive our context: keep `llm` referenced here
        reset()
        start = time.monotonic()
        # Every prompt in one batch (as llama.cpp's server does), then one token per stream.
        rows = []
        for s, ids in enumerate(prompts[:n]):
            rows += [(t, p, s, p == len(ids) - 1) for p, t in enumerate(ids)]
        decode(rows)
        now = time.monotonic()
        index = [i for i, row in enumerate(rows) if row[3]]
        tokens = [[argmax(i)] for i in index]
        times = [[now] for _ in range(n)]
        while len(tokens[0]) < n_new:
            decode(
                [(tokens[s][-1], len(prompts[s]) + len(tokens[s]) - 1, s, True) for s in range(n)]
            )
            now = time.monotonic()
            for s in range(n):
                tokens[s].append(argmax(s))
                times[s].append(now)
        streams = [_stream(start, times[s], tokens[s], len(prompts[s])) for s in range(n)]
        return {"streams": streams, "provider": "cpu (llama.cpp)"}

    return run


BATCH_SIDES: dict[str, Callable[[dict[str, Any]], BatchRunner]] = {
    "ours": _ours_batch,
    "llamacpp": _llamacpp_batch,
}

SIDES: dict[str, Callable[[dict[str, Any]], Runner]] = {
    "ours": _ours,
    "optimum": _optimum,
    "llamacpp": _llamacpp,
}


def _send(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def main() -> int:
    # Ctrl-C is the parent's to handle: it closes our stdin, and we finish cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spec = json.loads(sys.argv[1])
    batched = "batch_prompts" in spec
    try:
        if batched:
            run_batch = BATCH_SIDES[spec["side"]](spec)
        else:
            run = SIDES[spec["side"]](spec)
    except PeerUnavailable as exc:
        _send({"error": str(exc), "unavailable": True})
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        _send({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send({"ready": True, "peak_rss_mb": peak_rss_mb()})
    for line in sys.stdin:
        words = line.split()
        if batched and len(words) == 2 and words[0] == "batch":
            result = run_batch(int(words[1]))
        elif not batched and words == ["run"]:
            result = run()
        else:
            break
        result["peak_rss_mb"] = peak_rss_mb()
        _send(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
