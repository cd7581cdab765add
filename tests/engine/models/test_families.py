"""Every family `model prepare` knows, on a tiny random model: fused, exact, quantized, generating.

Each family's HF folder (tests/helpers/tiny_families.py) is built once into the test cache;
the preparations run in the test's own data home (an export of these models takes well
under a second). The fused fp32 graph must agree with optimum's unfused fp32 export
(`--no-fuse`) up to float error, one token at a time (decode) and in one prefill, past the
sliding window; the default recipe must quantize it and generate through LLMSession.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from engine.models.prepare import DEFAULT_QUANT
from tests.helpers.tiny_families import FAMILIES, cached_family_folder

pytest.importorskip("optimum.exporters.onnx")


def _prepare(source: Path, **kwargs):  # type: ignore[no-untyped-def]
    from engine.models.prepare import prepare

    return prepare(str(source), min_agreement=0.0, **kwargs)


#: What the fused attention nodes must say, per family (layer 0, layer 1).
ATTENTION: dict[str, dict[str, list[object]]] = {
    "mistral": {"local_window_size": [16, 16]},
    "phi3": {"local_window_size": [16, 16]},
    "llama": {"local_window_size": [-1, -1], "do_rotary": [1, 1]},
    "gemma2": {"softcap": [50.0, 50.0], "local_window_size": [16, -1]},
    "gemma3": {"local_window_size": [16, -1], "scale": [pytest.approx(32**-0.5)] * 2},
    "granite": {"scale": [pytest.approx(0.0625)] * 2},  # attention_multiplier, not 16**-0.5
    "smollm3": {"do_rotary": [1, 0]},
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_fuses_exactly_quantizes_and_generates(family: str) -> None:
    from engine.llm.events import GenerationFinished
    from engine.llm.session import LLMSession

    source = cached_family_folder(family)
    fused = _prepare(source, quant="fp32", name="fused")
    unfused = _prepare(source, quant="fp32", name="unfused", fuse=False)
    expected_family = {"smollm": "llama"}.get(family, family)
    assert fused.manifest.family == expected_family
    assert fused.manifest.graph.fused, fused.manifest.graph.fusion.skipped
    assert not unfused.manifest.graph.fused
    assert unfused.manifest.graph.fusion.by_request
    nodes = onnx.load(str(fused.folder / "model.onnx")).graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("GroupQueryAttention") == 2 and "Softmax" not in ops
    attrs = [
        {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        for n in nodes
        if n.op_type == "GroupQueryAttention"
    ]
    for name, values in ATTENTION.get(family, {}).items():
        assert [a.get(name) for a in attrs] == values, (name, attrs)

    ids = [2, *(int(t) for t in np.random.default_rng(7).integers(3, 500, 35))]  # > window
    with_fusion = LLMSession(fused.folder, provider="cpu")
    without = LLMSession(unfused.folder, provider="cpu")
    ours, reference = with_fusion.logits_for(ids), without.logits_for(ids)
    assert (ours.argmax(-1) == reference.argmax(-1)).all()
    scale = np.abs(reference).max()
    np.testing.assert_allclose(ours, reference, atol=1e-4 * scale + 1e-4)
    np.testing.assert_allclose(
        with_fusion.prefill(ids), without.prefill(ids), atol=1e-4 * scale + 1e-4
    )

    quantized = _prepare(source, quant=DEFAULT_QUANT, name="q")
    assert quantized.manifest.graph.fused
    # A tied lm_head re-scores from the 8-bit token table, read outside ONNX Runtime (the
    # lean graph), unless soft-capping follows the re-scoring (Gemma 2: the full graph runs).
    tied = FAMILIES[family][2].get("tie_word_embeddings", False)
    assert (quantized.manifest.graph.lean is not None) == (tied and family != "gemma2")
    assert quantized.manifest.validation["top1_agreement"] > 0.5
    finished = LLMSession(quantized.folder, provider="cpu").complete(
        "the quick brown fox", max_new_tokens=6, ignore_eos=True
    )
    assert isinstance(finished, GenerationFinished) and len(finished.token_ids) == 6


def test_a_model_an_older_version_left_unfused_is_fused_on_the_next_prepare(
    _data_home: Path,
) -> None:
    """Before this version only Gemma 3 was fused: a Qwen3 prepared then has an unfused
    export in the cache and an unfused folder with the same cache key. Preparing again
    (no --force) redoes both, fused; a model left unfused on request stays as it is."""
    import json

    source = cached_family_folder("qwen3")
    first = _prepare(source, quant="fp32", name="q")
    old_note = {"skipped": "no attention fusion for model_type 'qwen3'"}
    (export,) = (_data_home / "models" / ".work").iterdir()
    marker = json.loads((export / "export.json").read_text())
    (export / "export.json").write_text(json.dumps({**marker, "fusion": old_note}))
    manifest = json.loads((first.folder / "model.json").read_text())
    manifest["graph"]["fusion"] = old_note
    (first.folder / "model.json").write_text(json.dumps(manifest))

    again = _prepare(source, quant="fp32", name="q")
    assert not again.reused and again.manifest.graph.fused
    assert json.loads((export / "export.json").read_text())["fusion"]["fused_layers"] == 2
    unfused = _prepare(source, quant="fp32", name="u", fuse=False)
    assert _prepare(source, quant="fp32", name="u", fuse=False).reused
    assert not unfused.manifest.graph.fused
