"""`BatchSession`: several generations at once on one prepared (fused) graph.

Continuous batching: sequences are submitted at any time, join between steps, and leave as
soon as they finish, so the batch never waits for its slowest member. Each step runs

* one batched decode call: every decoding sequence feeds its last token, one row each
  (the weights are read once for all of them: decode is memory-bound, so a batch of 4
  costs far less than 4 single steps), then
* at most one prefill chunk of a sequence that is still reading its prompt (batch 1).
  While others decode, the chunk is small (`interleave_chunk`), so running streams keep
  flowing. A wave of sequences submitted while nothing decodes is prefilled (in full
  chunks, one sequence after another) before any of them decodes, as llama.cpp's server
  does with a batch of prompts; the early ones show their first token at once and then
  wait for the wave, so one of their inter-token gaps holds the others' prefill.

The KV cache is one buffer per past input, [slots, kv_heads, capacity, head_dim]; a slot
holds one sequence. GroupQueryAttention reads each row's length from `seqlens_k`
(attention_mask sums, right-padded) and writes its new positions into the same buffer,
so a step copies no cache. A batch covers slots 0..n-1: a slot in that range with nothing
to decode gets a dummy token written just past its valid positions, which are untouched.
Past and present are bound by pointer (IO binding), the same code for CPU, CUDA and
DirectML buffers; only the CPU path has run. Prefix cache: a finished sequence leaves its
KV in its slot; a new sequence takes the slot sharing its longest prompt prefix, or, on
the CPU, copies that prefix from any slot (a memory copy instead of a prefill).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort

from engine.errors import ModelError
from engine.llm.detokenizer import IncrementalDetokenizer
from engine.llm.events import GenerationEvent, GenerationFinished, GenerationStats, TokenDelta
from engine.llm.rows import RowTable
from engine.llm.sampling import SamplingParams, make_rng, sample
from engine.llm.session import KV_GROWTH, LLMSession
from engine.llm.stats import peak_rss_mb
from engine.llm.stops import StopMatcher
from engine.progress import CancelToken

#: Slots grow in steps of this many sequences.
SLOT_GROWTH = 2


class _KVStore:
    """The shared past/present buffers: [slots, kv_heads, capacity, head_dim] per input."""

    def __init__(self, specs: Sequence[Any], device: str, context: int) -> None:
        self.specs = list(specs)
        self.device = device
        self.context = context
        self.slots = 0
        self.capacity = 0
        self._arrays: list[np.ndarray] = []  # host memory (the CPU path)
        self._values: list[ort.OrtValue] = []  # what is bound
        self._pointers: list[int] = []
        self._slot_bytes: list[int] = []

    def shape(self, index: int, slots: int) -> list[int]:
        """Buffer `index` seen as `slots` sequences of the current capacity."""
        spec = self.specs[index]
        shape = list(spec.shape)
        shape[0] = slots
        shape[spec.seq_axis] = self.capacity
        return shape

    def reserve(self, slots: int, positions: int) -> None:
        """Hold at least `slots` sequences of `positions` each (contents kept)."""
        if slots <= self.slots and positions <= self.capacity:
            return
        new_slots = max(self.slots, -(-slots // SLOT_GROWTH) * SLOT_GROWTH)
        capacity = self.capacity
        if positions > capacity:
            capacity = min(self.context, max(positions, 2 * capacity, KV_GROWTH))
            capacity = min(self.context, -(-capacity // KV_GROWTH) * KV_GROWTH)
        arrays, values = [], []
        for i, spec in enumerate(self.specs):
            shape = list(spec.shape)
            shape[0], shape[spec.seq_axis] = new_slots, capacity
            arr = np.zeros(shape, spec.dtype)
            if self.slots and self.capacity:
                old = self._arrays[i] if self.device == "cpu" else self._values[i].numpy()
                index: list[Any] = [slice(None)] * arr.ndim
                index[0], index[spec.seq_axis] = slice(0, self.slots), slice(0, self.capacity)
                arr[tuple(index)] = old
            if self.device == "cpu":
                arrays.append(arr)  # the OrtValue wraps it: keep it alive
            values.append(ort.OrtValue.ortvalue_from_numpy(arr, self.device, 0))
        self._arrays, self._values = arrays, values
        self.slots, self.capacity = new_slots, capacity
        self._pointers = [int(v.data_ptr()) for v in values]
        self._slot_bytes = [
            int(np.prod(self.shape(i, 1))) * np.dtype(spec.dtype).itemsize
            for i, spec in enumerate(self.specs)
        ]

    def pointer(self, index: int, slot: int) -> int:
        """The address of slot `slot` in buffer `index` (slots are the leading axis)."""
        return self._pointers[index] + slot * self._slot_bytes[index]

    def can_copy(self) -> bool:
        return self.device == "cpu"

    def copy_prefix(self, source: int, target: int, length: int) -> None:
        """Copy the first `length` positions of slot `source` into slot `target` (CPU)."""
        self.reserve(max(source, target) + 1, length)
        for spec, arr in zip(self.specs, self._arrays, strict=True):
            index_src: list[Any] = [slice(None)] * arr.ndim
            index_dst: list[Any] = [slice(None)] * arr.ndim
            index_src[0], index_dst[0] = source, target
            index_src[spec.seq_axis] = index_dst[spec.seq_axis] = slice(0, length)
            arr[tuple(index_dst)] = arr[tuple(index_src)]


@dataclass
class _Slot:
    tokens: list[int] = field(default_factory=list)  # positions whose KV is valid
    seq: BatchSequence | None = None


class BatchSequence:
    """One generation in a `BatchSession`: its options, its state, its events.

    Iterate `events()` to stream it (from any thread: whichever consumer finds its queue
    empty runs the next step for everyone), or call `result()`. `cancel()` ends it at
    the next step with stop reason `cancelled`.
    """

    def __init__(
        self,
        batch: BatchSession,
        number: int,
        ids: list[int],
        max_new: int,
        max_new_tokens: int,
        params: SamplingParams,
        stop: Sequence[str],
        constraint: Any,
        cancel: CancelToken | None,
        reuse_cache: bool,
        ignore_eos: bool,
        t_start: float,
    ) -> None:
        self.batch = batch
        self.number = number
        self.ids = ids
        self.max_new = max_new
        self.max_new_tokens = max_new_tokens
        self.params = params
        self.constraint = constraint
        self.cancel_token = cancel or CancelToken()
        self.reuse_cache = reuse_cache
        self.ignore_eos = ignore_eos
        self.state = "waiting"  # waiting | prefill | decode | done
        self.slot = -1
        self.wave = False
        self.common = 0
        self.pending = -1  # the sampled token the next decode step feeds
        self.rng = make_rng(params.seed)
        self.detok = IncrementalDetokenizer(batch.llm.tokenizer)
        self.stops = StopMatcher(stop)
        self.seen = np.asarray(ids, dtype=np.int64) if params.repetition_penalty != 1.0 else None
        self.generated: list[int] = []
        self.latencies: list[float] = []
        self.text_parts: list[str] = []
        self.t_start = t_start
        self.t_prefilled = t_start
        self.t_first = t_start
        self.t_last = t_start
        self.finished: GenerationFinished | None = None
        self.error: BaseException | None = None
        self._queue: collections.deque[GenerationEvent] = collections.deque()

    def __repr__(self) -> str:
        return f"BatchSequence({self.number}, {self.state}, {len(self.generated)} tokens)"

    @property
    def done(self) -> bool:
        return self.state == "done"

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def events(self) -> Iterator[GenerationEvent]:
        """Stream this sequence's events, driving the batch while they are not there yet."""
        while True:
            if self._queue:
                event = self._queue.popleft()
                yield event
                if isinstance(event, GenerationFinished):
                    return
                continue
            if self.done:
                if self.error is not None:
                    raise self.error
                return
            self.batch._drive()

    def result(self) -> GenerationFinished:
        """Run until this sequence finishes and return its finish event."""
        for _ in self.events():
            pass
        if self.error is not None:
            raise self.error
        assert self.finished is not None
        return self.finished


class BatchSession:
    """Continuous batched generation on a loaded `LLMSession` (its graph must be fused)."""

    def __init__(
        self,
        llm: LLMSession,
        max_sequences: int = 8,
        prefill_chunk: int | None = None,
        interleave_chunk: int = 16,
    ) -> None:
        if not llm._shared:
            raise ModelError(
                f"batched generation needs a fused graph (GroupQueryAttention), and "
                f"{llm.folder.name!r} is not fused (its model family has no attention "
                "fusion yet); generate one sequence at a time with LLMSession"
            )
        if max_sequences < 1:
            raise ValueError(f"max_sequences must be >= 1, got {max_sequences}")
        self.llm = llm
        self.io = llm.io
        self.max_sequences = max_sequences
        self.prefill_chunk = max(1, prefill_chunk or llm.prefill_chunk)
        self.interleave_chunk = max(1, min(interleave_chunk, self.prefill_chunk))
        self.context_length = llm.context_length
        self.vocab_size = llm.vocab_size
        self._device = llm._device
        self._kv = _KVStore(self.io.kv, self._device, self.context_length)
        self._slots: list[_Slot] = []
        self._waiting: collections.deque[BatchSequence] = collections.deque()
        self._active: list[BatchSequence] = []
        self._count = 0
        self._step_lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._logits = np.empty((0, 1, self.vocab_size), dtype=self.io.logits_dtype)
        self._rows: RowTable | None = None
        if llm._rows is not None:  # our own reader: its row cache is not thread-safe
            lean = llm.manifest.graph.lean
            assert lean is not None
            self._rows = RowTable(llm.folder, lean)
            self._lean_outputs = llm._lean_outputs
            self._top_k = int(llm._candidates.shape[-1])
            self._hidden_size = int(llm._hidden.shape[-1])

    # ------------------------------------------------------------------ public
    def submit(
        self,
        prompt: str | Sequence[int],
        max_new_tokens: int = 128,
        sampling: SamplingParams | None = None,
        stop: Sequence[str] = (),
        constraint: Any = None,
        cancel: CancelToken | None = None,
        reuse_cache: bool = True,
        ignore_eos: bool = False,
    ) -> BatchSequence:
        """Queue one generation (same arguments as `LLMSession.generate`); it joins the
        batch at the next step with a free slot."""
        t_start = time.monotonic()
        llm = self.llm
        ids = llm.prompt_ids(prompt)
        with self._submit_lock:
            self._count += 1
            seq = BatchSequence(
                self,
                self._count,
                ids,
                min(max_new_tokens, self.context_length - len(ids)),
                max_new_tokens,
                sampling or SamplingParams(),
                stop,
                constraint,
                cancel,
                reuse_cache,
                ignore_eos,
                t_start,
            )
            self._waiting.append(seq)
        return seq

    @property
    def busy(self) -> bool:
        """Some sequence is waiting or running."""
        return bool(self._waiting or self._active)

    def step(self) -> list[tuple[BatchSequence, GenerationEvent]]:
        """One scheduling step for every sequence; returns the events it produced."""
        with self._step_lock:
            return self._step()

    def run(self) -> Iterator[tuple[BatchSequence, GenerationEvent]]:
        """Step until nothing is waiting or running (submissions in between join)."""
        while self.busy:
            yield from self.step()

    def generate_many(
        self, prompts: Sequence[str | Sequence[int]], **kwargs: Any
    ) -> list[GenerationFinished]:
        """Run several prompts together; their finish events, in the prompts' order."""
        seqs = [self.submit(p, **kwargs) for p in prompts]
        for _ in self.run():
            pass
        return [s.result() for s in seqs]

    def close(self) -> None:
        if self._rows is not None:
            self._rows.close()

    # ------------------------------------------------------------------ scheduling
    def _drive(self) -> None:
        """Run one step unless another thread is running one (then wait for it)."""
        if self._step_lock.acquire(timeout=0.05):
            try:
                self._step()
            finally:
                self._step_lock.release()

    def _step(self) -> list[tuple[BatchSequence, GenerationEvent]]:
        events: list[tuple[BatchSequence, GenerationEvent]] = []
        for seq in list(self._active):
            if seq.cancel_token.cancelled:
                self._finish(seq, "cancelled", events)
        self._admit()
        prefilling = [s for s in self._active if s.state == "prefill"]
        decoding = [s for s in self._active if s.state == "decode"]
        wave = [s for s in prefilling if s.wave]
        try:
            if wave:
                # Submitted while nothing decoded: all prefilled, in full chunks, before
                # any of them decodes; then they decode together.
                self._prefill(wave[0], self.prefill_chunk, events)
            else:
                if decoding:
                    self._decode(decoding, events)
                if prefilling:
                    chunk = self.interleave_chunk if decoding else self.prefill_chunk
                    self._prefill(prefilling[0], chunk, events)
        except Exception as exc:
            # A failed run leaves no row's state trustworthy: every running sequence ends.
            for seq in list(self._active):
                self._fail(seq, exc)
            raise
        return events

    def _admit(self) -> None:
        while self._waiting and len(self._active) < self.max_sequences:
            with self._submit_lock:
                seq = self._waiting.popleft()
            if seq.cancel_token.cancelled:
                seq.state = "prefill"
                self._active.append(seq)
                self._finish(seq, "cancelled", None)
                continue
            decoding = any(s.state == "decode" for s in self._active)
            seq.slot, seq.common = self._place(seq)
            seq.wave = not decoding
            seq.state = "prefill"
            self._active.append(seq)

    def _place(self, seq: BatchSequence) -> tuple[int, int]:
        """Pick a free slot for `seq` and reuse the longest cached prefix of its prompt."""
        ids = seq.ids
        limit = len(ids) - 1  # the last prompt token is always fed, for its logits

        def shared(slot: _Slot) -> int:
            if not seq.reuse_cache:
                return 0
            n, cached = 0, slot.tokens
            top = min(limit, len(cached))
            while n < top and cached[n] == ids[n]:
                n += 1
            return n

        free = [i for i, s in enumerate(self._slots) if s.seq is None]
        if not free:
            self._slots.append(_Slot())
            free = [len(self._slots) - 1]
        # Best own prefix among free slots (ties: the lowest slot, keeping the batch short).
        best = max(free, key=lambda i: (shared(self._slots[i]), -i))
        common = shared(self._slots[best])
        if self._kv.can_copy() and seq.reuse_cache:
            # On the CPU a prefix in any slot can be copied into the lowest free slot.
            source = max(range(len(self._slots)), key=lambda i: shared(self._slots[i]))
            found = shared(self._slots[source])
            target = free[0]
            own = shared(self._slots[target])
            if found > own and found > 0 and (found > common or target < best):
                if source != target:
                    self._kv.copy_prefix(source, target, found)
                best, common = target, found
        slot = self._slots[best]
        slot.tokens = ids[:common]
        slot.seq = seq
        return best, common

    # ------------------------------------------------------------------ steps
    def _prefill(
        self,
        seq: BatchSequence,
        chunk: int,
        events: list[tuple[BatchSequence, GenerationEvent]],
    ) -> None:
        """The next `chunk` prompt tokens (at most) of `seq`, a batch of one.

        Prompts are never stacked into one call: GroupQueryAttention takes several
        multi-token rows only at position 0, and a bigger matrix product there changes
        the float summation order (a near-tie token could then differ from the same
        prompt run alone, which this class guarantees it does not).
        """
        slot = self._slots[seq.slot]
        start = len(slot.tokens)
        piece = seq.ids[start : start + chunk]
        logits = self._forward(seq.slot, [piece], [start])
        slot.tokens.extend(piece)
        if len(slot.tokens) < len(seq.ids):
            return
        seq.t_prefilled = time.monotonic()
        self._take(seq, logits[0], events)

    def _dummy_room(self, slot: _Slot, size: int) -> None:
        """Make room for `size` dummy positions after a free slot's kept prefix."""
        if slot.seq is None and len(slot.tokens) + size > self.context_length:
            del slot.tokens[max(0, self.context_length - size) :]

    def _decode(
        self, decoding: list[BatchSequence], events: list[tuple[BatchSequence, GenerationEvent]]
    ) -> None:
        n = max(s.slot for s in decoding) + 1
        by_slot = {s.slot: s for s in decoding}
        feeds: list[list[int]] = []
        pasts: list[int] = []
        for index in range(n):
            slot = self._slots[index]
            seq = by_slot.get(index)
            if seq is not None:
                feeds.append([seq.pending])
                pasts.append(len(slot.tokens))
                continue
            # A dummy row: written just past the slot's valid positions, then ignored.
            self._dummy_room(slot, 1)
            feeds.append([0])
            pasts.append(len(slot.tokens))
        logits = self._forward(0, feeds, pasts)
        for seq in decoding:
            self._slots[seq.slot].tokens.append(seq.pending)
        for seq in decoding:
            try:
                self._take(seq, logits[seq.slot], events)
            except Exception as exc:  # noqa: BLE001 - one sequence's grammar error ends it alone
                self._fail(seq, exc)

    def _take(
        self,
        seq: BatchSequence,
        row: np.ndarray,
        events: list[tuple[BatchSequence, GenerationEvent]],
    ) -> None:
        """Sample `seq`'s next token from its logits row and emit what follows from it."""
        if seq.constraint is not None:
            seq.constraint.apply(row)
        token = sample(row, seq.params, seq.rng, seq.seen)
        now = time.monotonic()
        if seq.generated or seq.state == "decode":
            seq.latencies.append((now - seq.t_last) * 1000.0)
        else:
            seq.t_first = now
        seq.t_last = now
        if seq.constraint is not None:
            seq.constraint.advance(token)
        if token in self.llm.eos_ids and not seq.ignore_eos:
            self._finish(seq, "eos", events)
            return
        seq.generated.append(token)
        if seq.seen is not None:
            seq.seen = np.append(seq.seen, token)
        delta, hit = seq.stops.feed(seq.detok.add(token))
        if delta:
            seq.text_parts.append(delta)
        self._emit(seq, TokenDelta(delta, token, len(seq.generated) - 1, now), events)
        if hit:
            self._finish(seq, "stop_string", events)
        elif seq.constraint is not None and seq.constraint.is_finished:
            self._finish(seq, "grammar", events)
        elif len(seq.generated) >= seq.max_new:
            reason = "max_tokens" if seq.max_new == seq.max_new_tokens else "context"
            self._finish(seq, reason, events)
        else:
            seq.pending = token
            seq.state = "decode"

    def _emit(
        self,
        seq: BatchSequence,
        event: GenerationEvent,
        events: list[tuple[BatchSequence, GenerationEvent]] | None,
    ) -> None:
        seq._queue.append(event)
        if events is not None:
            events.append((seq, event))

    def _release(self, seq: BatchSequence) -> None:
        if seq in self._active:
            self._active.remove(seq)
        if 0 <= seq.slot < len(self._slots) and self._slots[seq.slot].seq is seq:
            self._slots[seq.slot].seq = None  # its KV stays: a prefix for the next one
        seq.state = "done"

    def _fail(self, seq: BatchSequence, exc: BaseException) -> None:
        seq.error = exc
        if 0 <= seq.slot < len(self._slots):
            self._slots[seq.slot].tokens = []
        self._release(seq)

    def _finish(
        self,
        seq: BatchSequence,
        reason: str,
        events: list[tuple[BatchSequence, GenerationEvent]] | None,
    ) -> None:
        if reason != "stop_string":
            tail, _ = seq.stops.feed(seq.detok.flush(), final=True)
            if tail:
                seq.text_parts.append(tail)
                self._emit(seq, TokenDelta(tail, -1, len(seq.generated), time.monotonic()), events)
        t_end = time.monotonic()
        if not seq.generated and seq.t_first == seq.t_start:
            seq.t_first = seq.t_last = t_end  # cancelled before its first token
        prefilled = len(seq.ids) - seq.common
        prefill_s = max(seq.t_prefilled - seq.t_start, 1e-9)
        decode_s = seq.t_last - seq.t_first
        stats = GenerationStats(
            provider=self.llm.provider.active,
            prompt_tokens=len(seq.ids),
            cached_tokens=seq.common,
            new_tokens=len(seq.generated),
            ttft_ms=(seq.t_first - seq.t_start) * 1000.0,
            prefill_ms=prefill_s * 1000.0,
            prefill_tok_s=prefilled / prefill_s,
            decode_ms=decode_s * 1000.0,
            decode_tok_s=(len(seq.latencies) / decode_s) if decode_s > 0 else 0.0,
            token_latencies_ms=tuple(seq.latencies),
            peak_rss_mb=peak_rss_mb(),
            t_start=seq.t_start,
            t_first_token=seq.t_first,
            t_end=t_end,
        )
        seq.finished = GenerationFinished(
            "".join(seq.text_parts), tuple(seq.generated), reason, stats, t_end
        )
        self._release(seq)
        self._emit(seq, seq.finished, events)

    # ------------------------------------------------------------------ forward
    def _forward(self, first_slot: int, feeds: list[list[int]], pasts: list[int]) -> np.ndarray:
        """Run rows `feeds` (equal lengths) on slots first_slot.. after `pasts` positions.

        Returns each row's last-position logits, [rows, vocab] (valid until the next call).
        """
        n, s = len(feeds), len(feeds[0])
        totals = [p + s for p in pasts]
        width = max(totals)
        self._kv.reserve(first_slot + n, width)
        if self._logits.shape[0] < n:
            self._logits = np.empty((n, 1, self.vocab_size), dtype=self.io.logits_dtype)
        io = self.io
        binding = self.llm.session.io_binding()
        flat = [t for row in feeds for t in row]
        if self._rows is not None:
            embeds = self._rows.rows(flat).reshape(n, s, self._hidden_size)
            binding.bind_cpu_input(io.input_ids, embeds)
        else:
            binding.bind_cpu_input(io.input_ids, np.asarray(feeds, dtype=np.int64))
        if io.attention_mask:
            mask = np.zeros((n, width), dtype=np.int64)
            for b, total in enumerate(totals):
                mask[b, :total] = 1
            binding.bind_cpu_input(io.attention_mask, mask)
        if io.position_ids:
            positions = np.asarray(pasts, dtype=np.int64)[:, None] + np.arange(s)[None, :]
            binding.bind_cpu_input(io.position_ids, positions)
        for index, spec in enumerate(io.kv):
            shape = self._kv.shape(index, n)
            ptr = self._kv.pointer(index, first_slot)
            binding.bind_input(spec.past, self._device, 0, spec.dtype, shape, ptr)
            # GroupQueryAttention writes the new positions into the same buffer.
            binding.bind_output(spec.present, self._device, 0, spec.dtype, shape, ptr)
        logits = self._logits[:n]
        last_only = s == 1 or self.llm.manifest.logits == "last"
        if last_only:
            binding.bind_output(
                io.logits, "cpu", 0, logits.dtype, list(logits.shape), logits.ctypes.data
            )
        else:
            binding.bind_output(io.logits, "cpu")
        if self._rows is not None:
            candidates = np.zeros((n, 1, self._top_k), dtype=np.int64)
            hidden = np.zeros((n, 1, self._hidden_size), dtype=np.float32)
            lean: tuple[np.ndarray, np.ndarray] = (candidates, hidden)
            for name, out in zip(self._lean_outputs, lean, strict=True):
                binding.bind_output(name, "cpu", 0, out.dtype, list(out.shape), out.ctypes.data)
        self.llm.session.run_with_iobinding(binding)
        if not last_only:
            full = binding.get_outputs()[0].numpy()
            logits[:, 0] = full[:, -1]
        if self._rows is not None:
            # Each row's best lm_head candidates, re-scored exactly from their 8-bit rows.
            for b in range(n):
                cand = candidates[b, 0]
                logits[b, 0, cand] = self._rows.rows(cand) @ hidden[b, 0]
        return logits[:, 0]
