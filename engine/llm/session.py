"""`LLMSession`: the one class that owns ONNX Runtime state for a causal language model.

It reads the KV-cache inputs from the session (names, head counts, head sizes, dtypes:
never hard-coded), feeds an empty past on the first step, prefills long prompts in
chunks, keeps the KV cache of the previous turn and reuses its longest common prefix,
and streams typed events with monotonic timestamps.

Between steps the cache stays in ONNX Runtime's own memory (OrtValues bound with IO
binding): a decoding step makes no copy of it, on the device or on the host (an unfused
graph's own Concat still writes past+new into `present`). Two rarer paths do copy it
through host memory: growing the fused graph's shared buffers (`_reserve`, every
KV_GROWTH positions) and rewinding an unfused cache to a shared prefix (`_rewind`). On
CUDA and DirectML those copies cross the bus; neither path has run on a GPU here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from engine.errors import Cancelled, ModelError, PromptTooLongError
from engine.llm.detokenizer import IncrementalDetokenizer
from engine.llm.events import GenerationEvent, GenerationFinished, GenerationStats, TokenDelta
from engine.llm.providers import (
    PROVIDERS,
    candidates,
    create_session,
    session_options,
)
from engine.llm.rows import RowTable
from engine.llm.sampling import SamplingParams, make_rng, sample
from engine.llm.stats import peak_rss_mb, release_freed_memory
from engine.llm.stops import StopMatcher
from engine.manifest import Manifest, check_folder
from engine.progress import CancelToken

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}
_DEVICES = {"cuda": "cuda", "dml": "dml", "cpu": "cpu"}
#: Shared KV buffers grow in steps of this many positions.
KV_GROWTH = 256


@dataclass(frozen=True)
class KVSpec:
    """One past-KV input as the graph declares it."""

    past: str
    present: str
    shape: tuple[int, ...]  # with 0 on the sequence axis (an empty past)
    seq_axis: int
    dtype: Any


@dataclass(frozen=True)
class ModelIO:
    """Input and output names read from the session."""

    input_ids: str
    attention_mask: str | None
    position_ids: str | None
    logits: str
    kv: tuple[KVSpec, ...]
    logits_dtype: Any

    @classmethod
    def read(cls, session: ort.InferenceSession) -> ModelIO:
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        token_input = "input_ids" if "input_ids" in inputs else "inputs_embeds"
        if token_input not in inputs or "logits" not in outputs:
            raise ModelError(
                "this ONNX model is not a causal language model: it needs an `input_ids` "
                f"input and a `logits` output (it has inputs {sorted(inputs)[:6]} and outputs "
                f"{outputs[:6]}); prepare a causal-LM with `python main.py model prepare`"
            )
        kv: list[KVSpec] = []
        for name, arg in inputs.items():
            if not name.startswith("past_key_values"):
                continue
            present = "present" + name[len("past_key_values") :]
            if present not in outputs:
                raise ModelError(f"the model has {name} but no {present} output")
            dims = list(arg.shape)
            seq_axis = next(
                (i for i, d in enumerate(dims) if isinstance(d, str) and "sequence" in d),
                len(dims) - 2,
            )
            shape = tuple(
                0 if i == seq_axis else (1 if not isinstance(d, int) else d)
                for i, d in enumerate(dims)
            )
            kv.append(KVSpec(name, present, shape, seq_axis, _ORT_TYPES[arg.type]))
        logits_type = next(o.type for o in session.get_outputs() if o.name == "logits")
        return cls(
            input_ids=token_input,
            attention_mask="attention_mask" if "attention_mask" in inputs else None,
            position_ids="position_ids" if "position_ids" in inputs else None,
            logits="logits",
            kv=tuple(kv),
            logits_dtype=_ORT_TYPES.get(logits_type, np.float32),
        )


@dataclass(frozen=True)
class OrtProfile:
    """ONNX Runtime's operator profile: its file, and when its `ts` 0 was (time.monotonic)."""

    path: Path
    start: float


class LLMSession:
    """A prepared causal-LM folder loaded into ONNX Runtime, ready to stream generations."""

    def __init__(
        self,
        folder: Path | str,
        provider: str = "auto",
        threads: int | None = None,
        prefill_chunk: int = 256,
        options: ort.SessionOptions | None = None,
        lean: bool = True,
        profile_dir: Path | None = None,
    ) -> None:
        """`profile_dir`: turn on ONNX Runtime's operator profiling, writing its file there."""
        self.folder = Path(folder)
        self.manifest: Manifest = check_folder(self.folder)
        if self.manifest.kind != "causal-lm":
            raise ModelError(
                f"{self.folder.name!r} is a {self.manifest.kind} model, not a causal LM"
            )
        self.tokenizer = _load_tokenizer(self.folder / "tokenizer.json")
        release_freed_memory()  # the JSON parse's scratch, before the weights arrive
        self.config = _read_json(self.folder / "config.json")
        self.context_length = int(self.manifest.context_length)
        self.eos_ids = frozenset(self.manifest.eos_token_ids)
        self.prefill_chunk = max(1, prefill_chunk)
        model_path = self._choose_graph(provider, lean)
        if profile_dir is not None:
            options = options or session_options(threads)
            options.enable_profiling = True
            options.profile_file_prefix = str(Path(profile_dir) / "onnxruntime")
        self.session, self.provider = create_session(model_path, provider, threads, options)
        self._profiling = profile_dir is not None
        # ORT stamps its profile on the wall clock; our events use the monotonic one.
        self._wall_minus_monotonic_ns = time.time_ns() - time.monotonic_ns()
        self.io = ModelIO.read(self.session)
        release_freed_memory()
        self._device = _DEVICES.get(self.provider.active, "cpu")
        self.vocab_size = int(self.config.get("vocab_size", self.tokenizer.get_vocab_size()))
        self._logits_buf = np.empty((1, 1, self.vocab_size), dtype=self.io.logits_dtype)
        self._ones = np.ones((1, self.context_length), dtype=np.int64)
        self._positions = np.arange(self.context_length, dtype=np.int64)[None, :]
        self._lock = threading.Lock()
        self._cache_tokens: list[int] = []
        self._cache: list[ort.OrtValue] = []
        # Fused graphs (GroupQueryAttention) update one preallocated past/present buffer
        # in place: no per-token copy of the cache, and rewinding to a prefix is free.
        self._shared = self.manifest.graph.fused and len(self.io.kv) > 0
        self._capacity = 0
        self._buffers: list[np.ndarray] = []
        self.reset()

    def _choose_graph(self, provider: str, lean_allowed: bool) -> Path:
        """On the CPU, the lean graph whose token table stays out of memory (RowTable)."""
        self._rows: RowTable | None = None
        lean = self.manifest.graph.lean
        on_cpu = candidates(provider)[0][:1] == [PROVIDERS["cpu"]]
        if not (lean and lean_allowed and on_cpu and (self.folder / lean.model).is_file()):
            return self.folder / "model.onnx"
        self._rows = RowTable(self.folder, lean)
        top_k = int(self.manifest.quantization.get("rerank", 0))
        self._lean_outputs = (lean.ids_output, lean.hidden_output)
        self._candidates = np.zeros((1, 1, top_k), dtype=np.int64)
        self._hidden = np.zeros((1, 1, lean.hidden), dtype=np.float32)
        return self.folder / lean.model

    # ------------------------------------------------------------------ cache
    def reset(self) -> None:
        """Forget the KV cache (the next generation prefills everything)."""
        self._cache_tokens = []
        if self._shared:
            return  # the buffers stay; their contents past the valid length are ignored
        self._cache = [
            ort.OrtValue.ortvalue_from_numpy(np.zeros(spec.shape, spec.dtype), self._device, 0)
            for spec in self.io.kv
        ]

    @property
    def cached_tokens(self) -> int:
        return len(self._cache_tokens)

    def _rewind(self, keep: int) -> None:
        """Keep the first `keep` positions of the cache (a shared prefix)."""
        if keep >= len(self._cache_tokens):
            return
        if keep == 0 or self._shared:
            # A shared buffer needs no copy: only the valid length changes.
            self._cache_tokens = self._cache_tokens[:keep]
            if not self._shared:
                self.reset()
            return
        kept = []
        for spec, value in zip(self.io.kv, self._cache, strict=True):
            kept.append(self._from_numpy(_take(value.numpy(), spec.seq_axis, keep)))
        self._cache = kept
        self._cache_tokens = self._cache_tokens[:keep]

    def _from_numpy(self, arr: np.ndarray) -> ort.OrtValue:
        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(arr), self._device, 0)

    def _reserve(self, total: int) -> None:
        """Make the shared past/present buffers hold at least `total` positions."""
        if self._capacity >= total:
            return
        step = KV_GROWTH
        capacity = min(self.context_length, max(total, 2 * self._capacity, step))
        capacity = min(self.context_length, -(-capacity // step) * step)
        valid = len(self._cache_tokens)
        grown = []
        for i, spec in enumerate(self.io.kv):
            shape = list(spec.shape)
            shape[spec.seq_axis] = capacity
            arr = np.zeros(shape, spec.dtype)
            if valid and self._cache:
                index = [slice(None)] * arr.ndim
                index[spec.seq_axis] = slice(0, valid)
                arr[tuple(index)] = _take(self._cache[i].numpy(), spec.seq_axis, valid)
            grown.append(arr)
        # On the CPU the OrtValues wrap these arrays, so keep the arrays alive with them.
        self._buffers = grown
        self._cache = [self._from_numpy(arr) for arr in grown]
        self._capacity = capacity

    # ------------------------------------------------------------------ forward
    def _forward(self, ids: Sequence[int]) -> np.ndarray:
        """Run the graph on `ids` after the cached positions; return last-position logits."""
        past = len(self._cache_tokens)
        n = len(ids)
        total = past + n
        if self._shared:
            self._reserve(total)
        binding = self.session.io_binding()
        if self._rows is not None:
            binding.bind_cpu_input(self.io.input_ids, self._rows.rows(ids)[None])
        else:
            binding.bind_cpu_input(self.io.input_ids, np.asarray([ids], dtype=np.int64))
        if self.io.attention_mask:
            binding.bind_cpu_input(self.io.attention_mask, self._ones[:, :total])
        if self.io.position_ids:
            binding.bind_cpu_input(
                self.io.position_ids, np.ascontiguousarray(self._positions[:, past:total])
            )
        for spec, value in zip(self.io.kv, self._cache, strict=True):
            binding.bind_ortvalue_input(spec.past, value)
            if self._shared:
                # GroupQueryAttention writes the new positions into the same buffer.
                binding.bind_ortvalue_output(spec.present, value)
        last_only = n == 1 or self.manifest.logits == "last"
        if last_only:
            buf = self._logits_buf
            binding.bind_output(
                self.io.logits, "cpu", 0, buf.dtype, list(buf.shape), buf.ctypes.data
            )
        else:
            binding.bind_output(self.io.logits, "cpu")
        if not self._shared:
            for spec in self.io.kv:
                binding.bind_output(spec.present, self._device)
        if self._rows is not None:
            extra: tuple[np.ndarray, np.ndarray] = (self._candidates, self._hidden)
            for name, out in zip(self._lean_outputs, extra, strict=True):
                binding.bind_output(name, "cpu", 0, out.dtype, list(out.shape), out.ctypes.data)
        self.session.run_with_iobinding(binding)
        if not self._shared:
            self._cache = list(binding.get_outputs()[1 : 1 + len(self.io.kv)])
        self._cache_tokens.extend(ids)
        if self._rows is not None:
            # The lm_head's best candidates, re-scored exactly from their 8-bit rows.
            candidates_ = self._candidates[0, 0]
            self._logits_buf[0, 0, candidates_] = self._rows.rows(candidates_) @ self._hidden[0, 0]
        if last_only:
            return self._logits_buf[0, -1]
        return np.asarray(binding.get_outputs()[0].numpy()[0, -1])

    def prefill(self, ids: Sequence[int], cancel: CancelToken | None = None) -> np.ndarray:
        """Feed `ids` in chunks after the cache; return the logits of the last one."""
        logits: np.ndarray | None = None
        for start in range(0, len(ids), self.prefill_chunk):
            if cancel is not None:
                cancel.check()
            logits = self._forward(ids[start : start + self.prefill_chunk])
        if logits is None:
            raise ValueError("prefill needs at least one token")
        return logits

    def logits_for(self, ids: Sequence[int]) -> np.ndarray:
        """Teacher-forced next-token logits for every position of `ids` (for validation).

        Returns an array [len(ids), vocab]; row i predicts ids[i + 1].
        """
        self.reset()
        rows = np.empty((len(ids), self.vocab_size), dtype=np.float32)
        for i, token in enumerate(ids):
            rows[i] = self._forward([token])
        self.reset()
        return rows

    # ------------------------------------------------------------------ text
    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def prompt_ids(self, prompt: str | Sequence[int]) -> list[int]:
        """The prompt's token ids, checked: not empty, and leaving room in the context."""
        ids = self.encode(prompt) if isinstance(prompt, str) else [int(i) for i in prompt]
        if not ids:
            raise ValueError("the prompt is empty")
        if len(ids) >= self.context_length:
            raise PromptTooLongError(
                f"the prompt is {len(ids)} tokens but the model's context is "
                f"{self.context_length}: shorten it by at least "
                f"{len(ids) - self.context_length + 1}"
                " tokens (or prepare the model with a longer context)"
            )
        return ids

    # ------------------------------------------------------------------ generate
    def generate(
        self,
        prompt: str | Sequence[int],
        max_new_tokens: int = 128,
        sampling: SamplingParams | None = None,
        stop: Sequence[str] = (),
        constraint: Any = None,
        cancel: CancelToken | None = None,
        reuse_cache: bool = True,
        ignore_eos: bool = False,
    ) -> Iterator[GenerationEvent]:
        """Stream a generation: `TokenDelta` events, then one `GenerationFinished`.

        `constraint` is a `GrammarConstraint` (engine.llm.constraints) or None.
        """
        with self._lock:
            yield from self._generate(
                prompt,
                max_new_tokens,
                sampling or SamplingParams(),
                stop,
                constraint,
                cancel,
                reuse_cache,
                ignore_eos,
            )

    def _generate(
        self,
        prompt: str | Sequence[int],
        max_new_tokens: int,
        params: SamplingParams,
        stop: Sequence[str],
        constraint: Any,
        cancel: CancelToken | None,
        reuse_cache: bool,
        ignore_eos: bool,
    ) -> Iterator[GenerationEvent]:
        t_start = time.monotonic()
        ids = self.prompt_ids(prompt)
        max_new = min(max_new_tokens, self.context_length - len(ids))
        # Reuse the longest common prefix; the last prompt token is always fed again so
        # that its logits exist.
        common = 0
        if reuse_cache:
            limit = min(len(self._cache_tokens), len(ids) - 1)
            cached = self._cache_tokens
            while common < limit and cached[common] == ids[common]:
                common += 1
        self._rewind(common)
        rng = make_rng(params.seed)
        detok = IncrementalDetokenizer(self.tokenizer)
        stops = StopMatcher(stop)
        seen = np.asarray(ids, dtype=np.int64) if params.repetition_penalty != 1.0 else None
        generated: list[int] = []
        latencies: list[float] = []
        stop_reason = "max_tokens"
        try:
            logits = self.prefill(ids[common:], cancel)
        except Cancelled:
            self.reset()
            raise
        t_prefilled = time.monotonic()
        t_first = t_prefilled
        t_last = t_prefilled
        text_parts: list[str] = []
        while len(generated) < max_new:
            if cancel is not None and cancel.cancelled:
                stop_reason = "cancelled"
                break
            if constraint is not None:
                constraint.apply(logits)
            token = sample(logits, params, rng, seen)
            now = time.monotonic()
            if generated:
                latencies.append((now - t_last) * 1000.0)
            else:
                t_first = now
            t_last = now
            if constraint is not None:
                constraint.advance(token)
            if token in self.eos_ids and not ignore_eos:
                stop_reason = "eos"
                break
            generated.append(token)
            if seen is not None:
                seen = np.append(seen, token)
            delta, hit = stops.feed(detok.add(token))
            if delta:
                text_parts.append(delta)
            yield TokenDelta(delta, token, len(generated) - 1, now)
            if hit:
                stop_reason = "stop_string"
                break
            if constraint is not None and constraint.is_finished:
                stop_reason = "grammar"
                break
            if len(generated) >= max_new:
                stop_reason = "max_tokens" if max_new == max_new_tokens else "context"
                break
            logits = self._forward([token])
        if stop_reason not in ("stop_string",):
            tail, _ = stops.feed(detok.flush(), final=True)
            if tail:
                text_parts.append(tail)
                yield TokenDelta(tail, -1, len(generated), time.monotonic())
        t_end = time.monotonic()
        prefilled = len(ids) - common
        prefill_s = max(t_prefilled - t_start, 1e-9)
        decode_s = t_last - t_first
        stats = GenerationStats(
            provider=self.provider.active,
            prompt_tokens=len(ids),
            cached_tokens=common,
            new_tokens=len(generated),
            ttft_ms=(t_first - t_start) * 1000.0,
            prefill_ms=prefill_s * 1000.0,
            prefill_tok_s=prefilled / prefill_s,
            decode_ms=decode_s * 1000.0,
            decode_tok_s=(len(latencies) / decode_s) if decode_s > 0 else 0.0,
            token_latencies_ms=tuple(latencies),
            peak_rss_mb=peak_rss_mb(),
            t_start=t_start,
            t_first_token=t_first,
            t_end=t_end,
        )
        yield GenerationFinished("".join(text_parts), tuple(generated), stop_reason, stats, t_end)

    def complete(self, prompt: str | Sequence[int], **kwargs: Any) -> GenerationFinished:
        """Run a whole generation and return its finish event."""
        finished: GenerationFinished | None = None
        for event in self.generate(prompt, **kwargs):
            if isinstance(event, GenerationFinished):
                finished = event
        assert finished is not None
        return finished

    def end_profiling(self) -> OrtProfile | None:
        """Stop the operator profiling asked for with `profile_dir` and return its file."""
        if not self._profiling:
            return None
        start_ns = self.session.get_profiling_start_time_ns()
        path = Path(self.session.end_profiling())
        self._profiling = False
        return OrtProfile(path, (start_ns - self._wall_minus_monotonic_ns) / 1e9)


def _take(arr: np.ndarray, axis: int, length: int) -> np.ndarray:
    """The first `length` positions of `arr` along `axis`."""
    index = [slice(None)] * arr.ndim
    index[axis] = slice(0, length)
    return arr[tuple(index)]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{path} is unreadable or corrupt ({exc}); prepare the model again"
        ) from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path} is corrupt (not a JSON object); prepare the model again")
    return data


def _load_tokenizer(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ModelError(
            f"{path} is not a valid tokenizer.json ({exc}); prepare the model again"
        ) from exc
