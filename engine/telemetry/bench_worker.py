"""One side of a side-by-side benchmark, in its own process (so its peak RSS is its own).

Started by `engine.telemetry.bench` with a JSON spec as argv[1]; it loads its engine,
prints `{"ready": ...}`, then answers each `run` line on stdin with one JSON line of
timings. Sides: `ours` (LLMSession), `optimum` (ORTModelForCausalLM.generate on the same
ONNX file), `llamacpp` (llama-cpp-python on the source GGUF).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from engine.llm.stats import peak_rss_mb

Runner = Callable[[], dict[str, Any]]


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


def _llamacpp(spec: dict[str, Any]) -> Runner:
    import numpy as np
    from llama_cpp import Llama

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
    try:
        run = SIDES[spec["side"]](spec)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        _send({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send({"ready": True, "peak_rss_mb": peak_rss_mb()})
    for line in sys.stdin:
        if line.strip() != "run":
            break
        result = run()
        result["peak_rss_mb"] = peak_rss_mb()
        _send(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
