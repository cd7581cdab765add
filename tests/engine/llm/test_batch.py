"""BatchSession on real exported models: each sequence of a batch equals the same prompt
run alone through LLMSession, token for token (greedy and seeded sampling), while
sequences join, leave, get cancelled, use their own grammars and stop strings."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from engine.errors import ModelError, PromptTooLongError
from engine.llm.batch import BatchSession
from engine.llm.constraints import ConstraintTokenizer, Grammar, GrammarConstraint
from engine.llm.events import GenerationFinished, TokenDelta
from engine.llm.sampling import SamplingParams
from engine.llm.session import LLMSession
from tests.helpers.tiny_model import SLIDING_WINDOW

PROMPTS = [
    "the quick brown fox",
    "hello world, this is a longer prompt than the others by a few words",
    "a",
    "numbers: 1 2 3 4 5 6 7 8 9 10 11 12",
]


@pytest.fixture(scope="module")
def int4(tiny_int4: Path) -> LLMSession:
    return LLMSession(tiny_int4, provider="cpu", prefill_chunk=8)


@pytest.fixture(scope="module")
def fp32(tiny_fp32: Path) -> LLMSession:
    return LLMSession(tiny_fp32, provider="cpu", prefill_chunk=8)


def alone(llm: LLMSession, prompt: str | list[int], n: int, **kwargs: object) -> list[int]:
    out = llm.complete(prompt, max_new_tokens=n, ignore_eos=True, reuse_cache=False, **kwargs)
    return list(out.token_ids)


@pytest.mark.parametrize("which", ["int4", "fp32"])
def test_batch_equals_single_stream_past_the_sliding_window(
    which: str, request: pytest.FixtureRequest
) -> None:
    llm: LLMSession = request.getfixturevalue(which)
    n = 3 * SLIDING_WINDOW
    expected = [alone(llm, p, n) for p in PROMPTS]
    batch = BatchSession(llm, interleave_chunk=4)
    outs = batch.generate_many(PROMPTS, max_new_tokens=n, ignore_eos=True, reuse_cache=False)
    assert [list(o.token_ids) for o in outs] == expected
    assert all(o.stop_reason == "max_tokens" for o in outs)


def test_sequences_join_and_leave_between_steps(int4: LLMSession) -> None:
    """Continuous batching: late joiners prefill in chunks while the others keep decoding."""
    long_prompt = " ".join(["word"] * 30)
    expected = {p: alone(int4, p, 24) for p in [*PROMPTS, long_prompt]}
    batch = BatchSession(int4, max_sequences=3, interleave_chunk=4)
    first = batch.submit(PROMPTS[0], max_new_tokens=24, ignore_eos=True)
    short = batch.submit(PROMPTS[2], max_new_tokens=5, ignore_eos=True)
    while len(first.generated) < 2:  # the wave (first, short) is prefilled and decoding
        batch.step()
    # A long prompt joins while `first` decodes: every step still gives `first` a token.
    late = batch.submit(long_prompt, max_new_tokens=24, ignore_eos=True)
    flowing = 0
    while late.state in ("waiting", "prefill") and not first.done:
        events = batch.step()
        if late.state == "prefill" or any(s is late for s, _ in events):
            assert any(s is first and isinstance(e, TokenDelta) for s, e in events)
            flowing += 1
    assert flowing >= 3  # 30+ prompt tokens in chunks of 4, each beside a decode step
    # More sequences than slots: the rest wait and take the slots the others leave.
    rest = [batch.submit(p, max_new_tokens=24, ignore_eos=True) for p in PROMPTS[1:]]
    for _ in batch.run():
        assert len(batch._active) <= 3
    assert list(first.result().token_ids) == expected[PROMPTS[0]]
    assert list(short.result().token_ids) == expected[PROMPTS[2]][:5]
    assert list(late.result().token_ids) == expected[long_prompt]
    for seq, prompt in zip(rest, PROMPTS[1:], strict=True):
        assert list(seq.result().token_ids) == expected[prompt]


def test_cancel_one_sequence_leaves_the_others_exact(int4: LLMSession) -> None:
    expected = [alone(int4, p, 20) for p in PROMPTS[:3]]
    batch = BatchSession(int4)
    seqs = [batch.submit(p, max_new_tokens=20, ignore_eos=True) for p in PROMPTS[:3]]
    for seq, event in batch.run():
        if seq is seqs[1] and isinstance(event, TokenDelta) and event.index == 4:
            seq.cancel()
    cancelled = seqs[1].result()
    assert cancelled.stop_reason == "cancelled"
    assert list(cancelled.token_ids) == expected[1][:5]
    assert cancelled.stats.new_tokens == 5
    for i in (0, 2):
        assert list(seqs[i].result().token_ids) == expected[i]
    # Cancelled before it ever ran: it finishes at once, with nothing generated.
    waiting = batch.submit(PROMPTS[0], max_new_tokens=5)
    waiting.cancel()
    assert waiting.result().stop_reason == "cancelled" and waiting.result().token_ids == ()


def test_per_sequence_sampling_stop_strings_and_grammar(int4: LLMSession) -> None:
    sampled = SamplingParams(temperature=0.9, top_k=40, top_p=0.95, seed=7)
    full = int4.complete(PROMPTS[0], max_new_tokens=20, ignore_eos=True, reuse_cache=False)
    stop = full.text[4:7]
    assert stop
    schema = {
        "type": "object",
        "properties": {"tool": {"enum": ["calculator", "clock"]}, "n": {"type": "integer"}},
        "required": ["tool", "n"],
        "additionalProperties": False,
    }
    tok = ConstraintTokenizer.from_file(int4.folder / "tokenizer.json", sorted(int4.eos_ids))

    def grammar() -> GrammarConstraint:
        return GrammarConstraint(tok, Grammar.json_schema(schema, compact=True))

    tool_prompt = "User: call a tool\nAssistant:"
    want_sampled = alone(int4, PROMPTS[1], 12, sampling=sampled)
    want_json = int4.complete(tool_prompt, max_new_tokens=60, constraint=grammar())
    batch = BatchSession(int4)
    a = batch.submit(PROMPTS[1], max_new_tokens=12, sampling=sampled, ignore_eos=True)
    b = batch.submit(PROMPTS[0], max_new_tokens=20, stop=[stop], ignore_eos=True)
    c = batch.submit(tool_prompt, max_new_tokens=60, constraint=grammar())
    d = batch.submit(PROMPTS[3], max_new_tokens=16, ignore_eos=True)
    for _ in batch.run():
        pass
    assert list(a.result().token_ids) == want_sampled
    assert b.result().stop_reason == "stop_string"
    assert b.result().text == full.text[: full.text.index(stop)]
    assert c.result().text == want_json.text
    data = json.loads(c.result().text)
    assert data["tool"] in ("calculator", "clock") and isinstance(data["n"], int)
    assert list(d.result().token_ids) == alone(int4, PROMPTS[3], 16)


def test_events_streams_and_timings(int4: LLMSession) -> None:
    """Each consumer thread streams its own sequence; whoever waits drives the batch."""
    expected = [alone(int4, p, 16) for p in PROMPTS]
    batch = BatchSession(int4)
    seqs = [batch.submit(p, max_new_tokens=16, ignore_eos=True) for p in PROMPTS]
    streams: dict[int, list[object]] = {}

    def consume(i: int) -> None:
        streams[i] = list(seqs[i].events())

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(len(seqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for i, events in streams.items():
        deltas = [e for e in events if isinstance(e, TokenDelta) and e.token_id >= 0]
        finished = events[-1]
        assert isinstance(finished, GenerationFinished)
        assert [d.token_id for d in deltas] == expected[i]
        assert [d.index for d in deltas] == list(range(16))
        st = finished.stats
        assert st.new_tokens == 16 and len(st.token_latencies_ms) == 15
        assert st.t_start <= st.t_first_token <= st.t_end
        assert st.ttft_ms > 0 and st.decode_tok_s > 0 and st.prefill_tok_s > 0
        assert [d.t for d in deltas] == sorted(d.t for d in deltas)
    assert sorted(streams) == [0, 1, 2, 3]


def test_prefix_cache_per_sequence_and_shared(int4: LLMSession) -> None:
    shared = "a shared system prompt that every request starts with, then:"
    prompts = [f"{shared} {tail}" for tail in ("one", "two two", "three three three")]
    expected = [alone(int4, p, 10) for p in prompts]
    batch = BatchSession(int4)
    first = batch.generate_many(prompts[:1], max_new_tokens=10, ignore_eos=True)
    assert first[0].stats.cached_tokens == 0
    # The next two reuse the first one's prefix (its slot, or a copy of it).
    again = batch.generate_many(prompts, max_new_tokens=10, ignore_eos=True)
    common = len(int4.encode(shared)) - 1
    assert all(o.stats.cached_tokens >= common for o in again)
    assert [list(o.token_ids) for o in again] == expected
    cold = batch.generate_many(prompts, max_new_tokens=10, ignore_eos=True, reuse_cache=False)
    assert [o.stats.cached_tokens for o in cold] == [0, 0, 0]


def test_bad_requests_and_unfused_graphs(int4: LLMSession, tiny_int4: Path, tmp_path: Path) -> None:
    batch = BatchSession(int4)
    with pytest.raises(PromptTooLongError, match="context"):
        batch.submit([2] + [5] * int4.context_length)
    with pytest.raises(ValueError, match="empty"):
        batch.submit([])
    with pytest.raises(ValueError, match="max_sequences"):
        BatchSession(int4, max_sequences=0)
    # A model whose graph was not fused (its family has no fusion): a clear error.
    folder = tmp_path / "unfused"
    shutil.copytree(tiny_int4, folder)
    manifest = json.loads((folder / "model.json").read_text())
    manifest["graph"]["fusion"] = {"skipped": "no attention fusion for this family"}
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="fused graph"):
        BatchSession(LLMSession(folder, provider="cpu"))


def test_default_model_batch_equals_single_stream(default_model: Path) -> None:
    """The real default model (lean graph, re-scored lm_head): 4 streams, exact tokens."""
    llm = LLMSession(default_model, provider="cpu")
    prompts = [
        "The capital of France is",
        "Once upon a time, in a small village,",
        "def fibonacci(n):",
        "The three laws of motion are",
    ]
    expected = [alone(llm, p, 24) for p in prompts]
    batch = BatchSession(llm)
    outs = batch.generate_many(prompts, max_new_tokens=24, ignore_eos=True, reuse_cache=False)
    assert [list(o.token_ids) for o in outs] == expected


def test_a_sequence_at_the_end_of_the_context(int4: LLMSession) -> None:
    """A prompt near the context's end stops with `context`; its slot, then full up to the
    last position, takes dummy rows while the other one decodes on, exactly."""
    long_ids = [2, *([7, 8, 9] * 168)][: int4.context_length - 6]
    want_long = int4.complete(long_ids, max_new_tokens=50, ignore_eos=True, reuse_cache=False)
    assert want_long.stop_reason == "context"
    want = [alone(int4, p, 30) for p in PROMPTS[:2]]
    batch = BatchSession(int4)
    first = batch.generate_many([long_ids, PROMPTS[0]], max_new_tokens=50, ignore_eos=True)
    assert first[0].stop_reason == "context"
    assert first[0].token_ids == want_long.token_ids
    # A later sequence takes a slot again (the first free one) and is exact too.
    late = batch.submit(PROMPTS[1], max_new_tokens=30, ignore_eos=True, reuse_cache=False)
    assert late.result().token_ids == tuple(want[1])
    assert list(first[1].token_ids) == alone(int4, PROMPTS[0], 50)
