"""The `gpu` recipes' graphs, checked on CPU (no GPU here): float16 activations and KV
cache, 4-bit MatMulNBits in blocks of 32 or 128, float32 logits; ONNX Runtime's CPU
provider loads and runs them. Which recipe is the default follows the provider probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from tests.helpers.tiny_families import cached_family_folder

pytest.importorskip("optimum.exporters.onnx")


@pytest.fixture(scope="module")
def tiny_llama() -> Path:
    return cached_family_folder("llama")


@pytest.mark.parametrize(("quant", "block"), [("gpu", 32), ("gpu-b128", 128)])
def test_gpu_recipe_graph_is_float16_int4_and_runs_on_cpu(
    tiny_llama: Path, quant: str, block: int
) -> None:
    from engine.llm.session import LLMSession
    from engine.models.prepare import prepare

    result = prepare(str(tiny_llama), quant=quant, name="g", min_agreement=0.0)
    model = onnx.load(str(result.folder / "model.onnx"))
    graph = model.graph
    io = {v.name: v.type.tensor_type.elem_type for v in (*graph.input, *graph.output)}
    kv = {name: kind for name, kind in io.items() if name.startswith(("past_", "present."))}
    assert len(kv) == 8 and set(kv.values()) == {TensorProto.FLOAT16}
    assert io["logits"] == TensorProto.FLOAT and io["input_ids"] == TensorProto.INT64
    inits = {t.name: t for t in graph.initializer}
    matmuls = [n for n in graph.node if n.op_type == "MatMulNBits"]
    assert len(matmuls) == 15  # 7 per layer and the lm_head
    for node in matmuls:
        attrs = {a.name: a.i for a in node.attribute}
        assert attrs["bits"] == 4 and attrs["block_size"] == block
        assert inits[node.input[2]].data_type == TensorProto.FLOAT16  # the scales
    assert [n.op_type for n in graph.node].count("GroupQueryAttention") == 2
    assert not any(n.op_type == "MatMul" and n.input[1] in inits for n in graph.node)
    cos = numpy_helper.to_array(inits["/fused/global/cos"])
    assert cos.dtype == np.float16
    assert result.manifest.quantization["recipe"] == quant
    if block == 32:
        # Float16 adds (almost) nothing to the loss of 4-bit weights: the same quantization
        # with float32 activations diverges from fp32 as much (this random tiny model is hard
        # on 4 bits: about 0.27 top-1 agreement either way).
        int4 = prepare(str(tiny_llama), quant="int4", name="i4", min_agreement=0.0)
        ours, theirs = result.manifest.validation, int4.manifest.validation
        assert abs(ours["mean_kl"] - theirs["mean_kl"]) < 0.1 * theirs["mean_kl"]
        assert ours["top1_agreement"] > theirs["top1_agreement"] - 0.05

    session = LLMSession(result.folder, provider="cpu")
    assert {spec.dtype for spec in session.io.kv} == {np.float16}
    finished = session.complete("the quick brown fox", max_new_tokens=5, ignore_eos=True)
    assert len(finished.token_ids) == 5


def test_the_default_recipe_follows_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.llm import providers
    from engine.models.prepare import DEFAULT_QUANT, GPU_QUANT, default_quant

    # This machine's onnxruntime has no GPU provider: the probe answers cpu.
    assert providers.probe_device("auto") == "cpu"
    assert default_quant("auto") == DEFAULT_QUANT
    for device in ("cuda", "dml"):
        monkeypatch.setattr(providers, "probe_device", lambda preference, d=device: d)
        assert default_quant("auto") == GPU_QUANT
    monkeypatch.setattr(providers, "probe_device", lambda preference: "cpu")
    assert default_quant("cpu") == DEFAULT_QUANT
