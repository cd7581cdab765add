"""Graph fusion: what it replaces, and that it refuses patterns it does not know."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from engine.manifest import check_folder
from engine.models.fuse import fuse_attention


def test_tiny_model_is_fused(tiny_fp32: Path) -> None:
    manifest = check_folder(tiny_fp32)
    fusion = manifest.graph.fusion
    assert fusion.fused_layers == 2 and fusion.fused_gelu == 2
    graph = onnx.load(str(tiny_fp32 / "model.onnx"), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("GroupQueryAttention") == 2 and ops.count("FastGelu") == 2
    assert "Softmax" not in ops and "Tanh" not in ops
    assert [i.name for i in graph.input][:2] == ["input_ids", "attention_mask"]


def test_unknown_architecture_is_left_alone(tiny_fp32: Path) -> None:
    model = onnx.load(str(tiny_fp32 / "model.onnx"), load_external_data=False)
    before = len(model.graph.node)
    config = json.loads((tiny_fp32 / "config.json").read_text())
    result = fuse_attention(model, {**config, "model_type": "mamba"})
    assert "skipped" in result and "mamba" in result["skipped"]
    assert len(model.graph.node) == before


def test_already_fused_graph_is_left_alone(tiny_fp32: Path) -> None:
    model = onnx.load(str(tiny_fp32 / "model.onnx"), load_external_data=False)
    before = len(model.graph.node)
    config = json.loads((tiny_fp32 / "config.json").read_text())
    result = fuse_attention(model, config)
    assert "not found" in result["skipped"]
    assert len(model.graph.node) == before
