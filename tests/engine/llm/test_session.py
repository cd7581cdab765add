"""LLMSession on real exported tiny models: equality with optimum and torch, cache, streaming."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import GrammarError, ModelError, PromptTooLongError, ProviderError
from engine.llm.events import GenerationFinished, TokenDelta
from engine.llm.sampling import SamplingParams
from engine.llm.session import LLMSession
from engine.progress import CancelToken
from tests.helpers.reference import optimum_greedy
from tests.helpers.tiny_model import SLIDING_WINDOW

ROOT = Path(__file__).resolve().parents[3]
PROMPT = "the quick brown fox"


@pytest.fixture(scope="module")
def fp32(tiny_fp32: Path) -> LLMSession:
    return LLMSession(tiny_fp32, provider="cpu")


@pytest.fixture(scope="module")
def int4(tiny_int4: Path) -> LLMSession:
    return LLMSession(tiny_int4, provider="cpu")


@pytest.mark.export
@pytest.mark.parametrize("which", ["fp32", "int4"])
def test_equals_optimum_generate_token_for_token(
    which: str, request: pytest.FixtureRequest
) -> None:
    session: LLMSession = request.getfixturevalue(which)
    ids = session.encode(PROMPT)
    n = 3 * SLIDING_WINDOW  # well past the sliding window
    ours = session.complete(ids, max_new_tokens=n, ignore_eos=True, reuse_cache=False)
    assert list(ours.token_ids) == optimum_greedy(session.folder, ids, n)


@pytest.mark.export
def test_fp32_export_equals_torch_past_the_sliding_window(fp32: LLMSession, tiny_hf: Path) -> None:
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_hf, dtype=torch.float32).eval()
    rng = np.random.default_rng(1)
    ids = [2, *rng.integers(4, fp32.vocab_size, size=3 * SLIDING_WINDOW).tolist()]
    ours = fp32.logits_for(ids)
    with torch.inference_mode():
        ref = model(torch.tensor([ids])).logits[0].float().numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-3)
    assert (ours.argmax(-1) == ref.argmax(-1)).all()


def test_streaming_events_and_stats(int4: LLMSession) -> None:
    events = list(int4.generate(PROMPT, max_new_tokens=12, ignore_eos=True))
    deltas = [e for e in events if isinstance(e, TokenDelta)]
    finished = events[-1]
    assert isinstance(finished, GenerationFinished)
    assert "".join(d.text for d in deltas) == finished.text == int4.decode(finished.token_ids)
    times = [d.t for d in deltas]
    assert times == sorted(times)
    st = finished.stats
    assert st.new_tokens == 12 and finished.stop_reason == "max_tokens"
    assert st.prompt_tokens == len(int4.encode(PROMPT))
    assert st.ttft_ms > 0 and st.prefill_tok_s > 0 and st.decode_tok_s > 0
    assert len(st.token_latencies_ms) == 11
    assert st.peak_rss_mb > 10
    assert st.provider == "cpu"


def test_prefix_cache_is_reused_and_exact(tiny_int4: Path) -> None:
    warm = LLMSession(tiny_int4, provider="cpu")
    system = warm.encode("User: the quick brown fox jumps over the lazy dog\nAssistant:")
    first = warm.complete([*system, 65, 66], max_new_tokens=8, ignore_eos=True)
    second = warm.complete([*system, 70, 71], max_new_tokens=8, ignore_eos=True)
    assert first.stats.cached_tokens == 0
    assert second.stats.cached_tokens == len(system)
    fresh = LLMSession(tiny_int4, provider="cpu").complete(
        [*system, 70, 71], max_new_tokens=8, ignore_eos=True
    )
    assert fresh.stats.cached_tokens == 0
    assert second.token_ids == fresh.token_ids
    # A continuation of the last turn: the prompt plus the answer are all cached.
    turn = [*system, 70, 71, *second.token_ids, 80]
    third = warm.complete(turn, max_new_tokens=8, ignore_eos=True)
    assert third.stats.cached_tokens == len(turn) - 2
    cold = LLMSession(tiny_int4, provider="cpu").complete(turn, max_new_tokens=8, ignore_eos=True)
    assert third.token_ids == cold.token_ids
    # The very same prompt again: everything but the last token comes from the cache.
    again = warm.complete(turn, max_new_tokens=8, ignore_eos=True)
    assert again.token_ids == cold.token_ids
    assert again.stats.cached_tokens == len(turn) - 1


def test_chunked_prefill_equals_one_chunk(tiny_int4: Path) -> None:
    ids = LLMSession(tiny_int4).encode("a lighthouse keeper climbs the stairs every evening " * 3)
    small = LLMSession(tiny_int4, prefill_chunk=5).complete(ids, max_new_tokens=10, ignore_eos=True)
    big = LLMSession(tiny_int4, prefill_chunk=512).complete(ids, max_new_tokens=10, ignore_eos=True)
    assert small.token_ids == big.token_ids


def test_sampling_is_seeded(int4: LLMSession) -> None:
    params = SamplingParams(temperature=1.0, top_p=0.9, seed=7)
    a = int4.complete(PROMPT, max_new_tokens=10, sampling=params, ignore_eos=True)
    b = int4.complete(PROMPT, max_new_tokens=10, sampling=params, ignore_eos=True)
    assert a.token_ids == b.token_ids


def test_stop_string_and_cancel(int4: LLMSession) -> None:
    full = int4.complete(PROMPT, max_new_tokens=20, ignore_eos=True)
    stop = full.text[4:7]
    assert stop
    stopped = int4.complete(PROMPT, max_new_tokens=20, ignore_eos=True, stop=[stop])
    assert stopped.stop_reason == "stop_string"
    assert stopped.text == full.text[: full.text.index(stop)]
    cancel = CancelToken()
    seen = 0
    finished = None
    for event in int4.generate(PROMPT, max_new_tokens=50, ignore_eos=True, cancel=cancel):
        if isinstance(event, TokenDelta):
            seen += 1
            if seen == 3:
                cancel.cancel()
        else:
            finished = event
    assert finished is not None and finished.stop_reason == "cancelled"
    assert finished.stats.new_tokens == 3


def test_prompt_longer_than_context(int4: LLMSession) -> None:
    ids = [2] + [5] * int4.context_length
    with pytest.raises(PromptTooLongError, match="context"):
        int4.complete(ids)


def test_json_schema_constraint(int4: LLMSession) -> None:
    from engine.llm.constraints import ConstraintTokenizer, Grammar, GrammarConstraint

    schema = {
        "type": "object",
        "properties": {"tool": {"enum": ["calculator", "clock"]}, "n": {"type": "integer"}},
        "required": ["tool", "n"],
        "additionalProperties": False,
    }
    tok = ConstraintTokenizer.from_file(int4.folder / "tokenizer.json", sorted(int4.eos_ids))
    constraint = GrammarConstraint(tok, Grammar.json_schema(schema, compact=True))
    out = int4.complete("User: call a tool\nAssistant:", max_new_tokens=60, constraint=constraint)
    data = json.loads(out.text)
    assert data["tool"] in ("calculator", "clock") and isinstance(data["n"], int)


def test_unsatisfiable_grammar(int4: LLMSession) -> None:
    from engine.llm.constraints import Grammar

    with pytest.raises(GrammarError):
        Grammar.lark("start: (")


def test_bad_model_folders(tiny_int4: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        LLMSession(tmp_path / "missing")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_int4, broken)
    (broken / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt"):
        LLMSession(broken)
    shutil.rmtree(broken)
    shutil.copytree(tiny_int4, broken)
    data = (broken / "model.onnx.data").read_bytes()
    (broken / "model.onnx.data").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"wrong size|corrupt"):
        LLMSession(broken)
    with pytest.raises(ProviderError, match="unknown provider"):
        LLMSession(tiny_int4, provider="tpu")


def test_runtime_needs_no_torch_transformers_or_optimum(tiny_int4: Path) -> None:
    code = (
        "import sys\n"
        "from engine.llm.session import LLMSession\n"
        f"s = LLMSession({str(tiny_int4)!r})\n"
        "out = s.complete('the quick', max_new_tokens=4, ignore_eos=True)\n"
        "assert out.stats.new_tokens == 4\n"
        "bad = sorted(m for m in ('torch', 'transformers', 'optimum') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == ""


@pytest.mark.export
def test_shared_kv_buffer_grows_and_still_equals_optimum(int4: LLMSession) -> None:
    """A prompt past the first 256-position buffer: growth keeps the cache exact."""
    assert int4._shared  # the tiny model's attention is fused
    rng = np.random.default_rng(3)
    ids = [2, *rng.integers(4, int4.vocab_size - 1, size=299).tolist()]
    ours = int4.complete(ids, max_new_tokens=12, ignore_eos=True, reuse_cache=False)
    assert list(ours.token_ids) == optimum_greedy(int4.folder, ids, 12)


def test_operator_profiling_on_request(tiny_int4: Path, tmp_path: Path) -> None:
    import time

    before = time.monotonic()
    session = LLMSession(tiny_int4, provider="cpu", profile_dir=tmp_path)
    finished = session.complete(PROMPT, max_new_tokens=4, ignore_eos=True)
    profile = session.end_profiling()
    assert profile is not None and profile.path.parent == tmp_path and profile.path.is_file()
    assert session.end_profiling() is None  # once only
    events = json.loads(profile.path.read_text())
    runs = [e for e in events if e.get("name") == "model_run"]
    assert len(runs) == 4  # prefill + 3 decode steps
    # ONNX Runtime's clock mapped onto time.monotonic(): its runs sit inside the generation
    st = finished.stats
    assert before <= profile.start <= st.t_start
    first = profile.start + runs[0]["ts"] / 1e6
    last = profile.start + (runs[-1]["ts"] + runs[-1]["dur"]) / 1e6
    assert st.t_start - 0.002 <= first and last <= st.t_end + 0.002
    assert LLMSession(tiny_int4, provider="cpu").end_profiling() is None  # off by default
