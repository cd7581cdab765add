"""The real default model (Gemma 3 270M from its GGUF package), end to end.

Prepared once into the test cache (a few minutes and ~7 GB peak RSS the first time).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.llm.session import LLMSession
from engine.manifest import check_folder
from engine.models.prepare import DEFAULT_MIN_AGREEMENT, DEFAULT_QUANT
from tests.helpers.reference import optimum_greedy

pytestmark = [pytest.mark.slow, pytest.mark.export]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def session(default_model: Path) -> LLMSession:
    return LLMSession(default_model, provider="cpu")


def test_manifest_of_the_default_model(default_model: Path) -> None:
    manifest = check_folder(default_model)
    assert manifest.source["type"] == "default"
    assert manifest.quantization["recipe"] == DEFAULT_QUANT
    assert manifest.validation["top1_agreement"] >= DEFAULT_MIN_AGREEMENT
    assert manifest.validation["tokens"] >= 300
    assert not manifest.instruct  # Gemma 3 270M from this GGUF is a base model
    assert manifest.eos_token_ids == [1]
    assert manifest.size_bytes < 600e6


def test_prepared_tokenizer_is_the_right_bpe(session: LLMSession) -> None:
    assert session.encode("The capital of France is") == [2, 818, 5279, 529, 7001, 563]


def test_it_knows_the_capital_of_france(session: LLMSession) -> None:
    out = session.complete("Q: What is the capital of France?\nA:", max_new_tokens=10)
    assert "Paris" in out.text
    out = session.complete(
        "The capital of France is Paris. The capital of Germany is", max_new_tokens=4
    )
    assert "Berlin" in out.text
    assert out.stats.decode_tok_s > 0 and out.stats.ttft_ms > 0


def test_equals_optimum_on_the_real_model(session: LLMSession) -> None:
    ids = session.encode("A lighthouse keeper climbed the spiral stairs every evening and")
    ours = session.complete(ids, max_new_tokens=24, ignore_eos=True, reuse_cache=False)
    assert list(ours.token_ids) == optimum_greedy(session.folder, ids, 24)


def test_lean_graph_keeps_the_token_table_out_of_memory(
    session: LLMSession, default_model: Path
) -> None:
    """The CPU runtime reads table rows from the file; results equal the full graph's."""
    import numpy as np

    assert session._rows is not None
    full = LLMSession(default_model, provider="cpu", lean=False)
    assert full._rows is None
    ids = session.encode("The lighthouse keeper climbed the stairs and")
    lean_rows = session.logits_for(ids)
    full_rows = full.logits_for(ids)
    assert (lean_rows.argmax(-1) == full_rows.argmax(-1)).all()
    winners = full_rows.argmax(-1)
    np.testing.assert_allclose(
        lean_rows[np.arange(len(ids)), winners],
        full_rows[np.arange(len(ids)), winners],
        rtol=1e-4,
        atol=1e-3,
    )


def test_generate_json_command(default_model: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "main.py",
            "generate",
            "--model",
            str(default_model),
            "--prompt",
            "The capital of France is",
            "--max-new-tokens",
            "6",
            "--json",
            "--provider",
            "cpu",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(result.stdout)
    for key in (
        "text",
        "provider",
        "prompt_tokens",
        "new_tokens",
        "ttft_ms",
        "prefill_tok_s",
        "decode_tok_s",
    ):
        assert key in data
    assert data["provider"] == "cpu" and data["prompt_tokens"] == 6
