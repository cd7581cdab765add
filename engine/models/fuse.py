"""Fuse each decoder layer's attention into one GroupQueryAttention node.

optimum's export of Gemma 3 spends ~100 small nodes per layer on masks, rotary
embeddings, reshapes and the attention itself; on a 2-core CPU their dispatch cost is
about half of the time per decoded token. This pass replaces, per layer, everything
between the q/k/v projections and the o_proj input by:

    q_proj -> Reshape -> SimplifiedLayerNormalization (q_norm) -> Reshape --\
    k_proj -> Reshape -> SimplifiedLayerNormalization (k_norm) -> Reshape ---> GroupQueryAttention
    v_proj -----------------------------------------------------------------/   (rotary inside,
                                                                                 sliding window)

and then removes the nodes nothing reads any more. The graph keeps optimum's inputs and
outputs (input_ids, attention_mask, past_key_values.*, logits, present.*), so optimum
can still run it. When the graph does not look as expected the pass changes nothing and
says why: fusion is an optimisation, never a requirement.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: Rotary tables are precomputed up to this many positions (the prepared context length).
MAX_CONTEXT = 8192


class FusionSkipped(Exception):
    """The graph is not the pattern this pass knows; the message says what differed."""


def fuse_attention(model: onnx.ModelProto, config: dict[str, Any]) -> dict[str, Any]:
    """Fuse attention in place. Returns {"fused_layers": n, "context": c} or {"skipped": why}."""
    try:
        return _fuse(model, config)
    except FusionSkipped as exc:
        return {"skipped": str(exc)}


def _fuse(model: onnx.ModelProto, config: dict[str, Any]) -> dict[str, Any]:
    if config.get("model_type") not in ("gemma3_text", "gemma3"):
        raise FusionSkipped(f"no attention fusion for model_type {config.get('model_type')!r}")
    if config.get("attn_logit_softcapping"):
        raise FusionSkipped("attention logit softcapping is not fused")
    scaling = config.get("rope_scaling")
    if scaling not in (None, {}) and scaling.get("rope_type", scaling.get("type")) != "linear":
        raise FusionSkipped(f"rope scaling {scaling} is not fused")
    graph = model.graph
    nodes = {n.name: n for n in graph.node}
    inits = {t.name: t for t in graph.initializer}
    producers = {out: n for n in graph.node for out in n.output}

    def constant(name: str) -> str | None:
        """The initializer behind `name`, following Identity nodes (tied weights)."""
        for _ in range(8):
            if name in inits:
                return name
            node = producers.get(name)
            if node is None or node.op_type != "Identity":
                return None
            name = node.input[0]
        return None

    layers = int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config["num_key_value_heads"])
    head_dim = int(config["head_dim"])
    eps = float(config["rms_norm_eps"])
    scale = float(config.get("query_pre_attn_scalar", head_dim)) ** -0.5
    window = int(config.get("sliding_window") or 0)
    layer_types = config.get("layer_types") or ["full_attention"] * layers
    context = int(min(config.get("max_position_embeddings", MAX_CONTEXT), MAX_CONTEXT))
    factor = float((scaling or {}).get("factor", 1.0))

    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    p = "/fused"
    new_inits += _rotary_tables(
        f"{p}/global", float(config["rope_theta"]), head_dim, context, factor
    )
    new_inits += _rotary_tables(
        f"{p}/local", float(config.get("rope_local_base_freq", 10000.0)), head_dim, context, 1.0
    )
    new_inits += [
        numpy_helper.from_array(np.array([1], np.int64), f"{p}/axis1"),
        numpy_helper.from_array(np.array(1, np.int64), f"{p}/one"),
        numpy_helper.from_array(np.array([0, 0, heads, head_dim], np.int64), f"{p}/q_heads"),
        numpy_helper.from_array(np.array([0, 0, kv_heads, head_dim], np.int64), f"{p}/kv_heads"),
        numpy_helper.from_array(np.array([0, 0, heads * head_dim], np.int64), f"{p}/q_flat"),
        numpy_helper.from_array(np.array([0, 0, kv_heads * head_dim], np.int64), f"{p}/kv_flat"),
    ]
    # seqlens_k = sum(attention_mask) - 1, total_sequence_length = attention_mask.shape[1]
    new_nodes += [
        helper.make_node(
            "ReduceSum",
            ["attention_mask", f"{p}/axis1"],
            [f"{p}/mask_sum"],
            keepdims=0,
            name=f"{p}/mask_sum",
        ),
        helper.make_node(
            "Sub", [f"{p}/mask_sum", f"{p}/one"], [f"{p}/seqlens64"], name=f"{p}/seqlens64"
        ),
        helper.make_node(
            "Cast",
            [f"{p}/seqlens64"],
            [f"{p}/seqlens_k"],
            to=TensorProto.INT32,
            name=f"{p}/seqlens_k",
        ),
        helper.make_node(
            "Shape", ["attention_mask"], [f"{p}/mask_shape"], start=1, end=2, name=f"{p}/mask_shape"
        ),
        helper.make_node("Squeeze", [f"{p}/mask_shape"], [f"{p}/total64"], name=f"{p}/total64"),
        helper.make_node(
            "Cast",
            [f"{p}/total64"],
            [f"{p}/total_len"],
            to=TensorProto.INT32,
            name=f"{p}/total_len",
        ),
    ]
    outputs = {o.name for o in graph.output}
    rewires: list[tuple[onnx.NodeProto, str]] = []
    for i in range(layers):
        base = f"/model/layers.{i}/self_attn"
        try:
            q = nodes[f"{base}/q_proj/MatMul"].output[0]
            k = nodes[f"{base}/k_proj/MatMul"].output[0]
            v = nodes[f"{base}/v_proj/MatMul"].output[0]
            o_proj = nodes[f"{base}/o_proj/MatMul"]
            q_scale = constant(nodes[f"{base}/q_norm/Mul_1"].input[1])
            k_scale = constant(nodes[f"{base}/k_norm/Mul_1"].input[1])
        except KeyError as exc:
            raise FusionSkipped(f"layer {i}: node {exc} not found") from None
        if q_scale is None or k_scale is None:
            raise FusionSkipped(f"layer {i}: q_norm/k_norm weights are not constants")
        past_k, past_v = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        present_k, present_v = f"present.{i}.key", f"present.{i}.value"
        if present_k not in outputs or present_v not in outputs:
            raise FusionSkipped(f"layer {i}: no {present_k} output")
        sliding = layer_types[i] == "sliding_attention" and window > 0
        rope = f"{p}/local" if sliding else f"{p}/global"
        f = f"{p}/layers.{i}"
        new_nodes += [
            *_head_norm(q, q_scale, f"{p}/q_heads", f"{p}/q_flat", f"{f}/q", eps),
            *_head_norm(k, k_scale, f"{p}/kv_heads", f"{p}/kv_flat", f"{f}/k", eps),
            helper.make_node(
                "GroupQueryAttention",
                [
                    f"{f}/q",
                    f"{f}/k",
                    v,
                    past_k,
                    past_v,
                    f"{p}/seqlens_k",
                    f"{p}/total_len",
                    f"{rope}/cos",
                    f"{rope}/sin",
                ],
                [f"{f}/attn", present_k, present_v],
                domain="com.microsoft",
                name=f"{f}/gqa",
                num_heads=heads,
                kv_num_heads=kv_heads,
                scale=scale,
                do_rotary=1,
                rotary_interleaved=0,
                local_window_size=window if sliding else -1,
            ),
        ]
        rewires.append((o_proj, f"{f}/attn"))
        gelu = _gelu_rewire(nodes, i, config)
        if gelu is not None:
            consumer, gate, out = gelu
            new_nodes.append(
                helper.make_node("FastGelu", [gate], [out], domain="com.microsoft", name=out)
            )
            rewires.append((consumer, out))
    # Every layer matched: only now is the graph changed.
    for consumer, value in rewires:
        consumer.input[0] = value
    # The old producers of present.* must go before the new ones are added.
    for node in graph.node:
        for j, out in enumerate(node.output):
            if out in outputs and out.startswith("present."):
                node.output[j] = out + "/unfused"
    graph.node.extend(new_nodes)
    graph.initializer.extend(new_inits)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    _topological_sort(graph)  # before pruning: it walks consumers before producers
    removed = remove_dead_nodes(graph)
    gelus = sum(1 for node in graph.node if node.op_type == "FastGelu")
    return {
        "fused_layers": layers,
        "fused_gelu": gelus,
        "context": context,
        "removed_nodes": removed,
    }


def _gelu_rewire(
    nodes: dict[str, onnx.NodeProto], layer: int, config: dict[str, Any]
) -> tuple[onnx.NodeProto, str, str] | None:
    """The tanh-approximated GELU of a layer's MLP, as one FastGelu node (or None)."""
    if config.get("hidden_activation") != "gelu_pytorch_tanh":
        return None
    base = f"/model/layers.{layer}/mlp"
    gate = nodes.get(f"{base}/gate_proj/MatMul")
    consumer = nodes.get(f"{base}/Mul")
    last = nodes.get(f"{base}/act_fn/Mul_5")
    tanh = nodes.get(f"{base}/act_fn/Tanh")
    if gate is None or consumer is None or last is None or tanh is None:
        return None
    if consumer.input[0] != last.output[0]:
        return None
    return consumer, gate.output[0], f"/fused/layers.{layer}/gelu"


def _head_norm(
    x: str, scale: str, heads_shape: str, flat_shape: str, out: str, eps: float
) -> list[onnx.NodeProto]:
    """RMS-normalise each head of a [B, S, H*D] projection (Gemma's q_norm / k_norm)."""
    return [
        helper.make_node("Reshape", [x, heads_shape], [f"{out}4"], name=f"{out}4"),
        helper.make_node(
            "SimplifiedLayerNormalization",
            [f"{out}4", scale],
            [f"{out}n"],
            axis=-1,
            epsilon=eps,
            name=f"{out}_norm",
        ),
        helper.make_node("Reshape", [f"{out}n", flat_shape], [out], name=out),
    ]


def _rotary_tables(
    prefix: str, theta: float, head_dim: int, context: int, factor: float
) -> list[onnx.TensorProto]:
    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    positions = np.arange(context, dtype=np.float64) / factor
    angles = np.outer(positions, inv_freq)  # [context, head_dim / 2]
    return [
        numpy_helper.from_array(np.cos(angles).astype(np.float32), f"{prefix}/cos"),
        numpy_helper.from_array(np.sin(angles).astype(np.float32), f"{prefix}/sin"),
    ]


def remove_dead_nodes(graph: onnx.GraphProto) -> int:
    """Drop nodes (and initializers) that no graph output depends on. Returns nodes removed."""
    needed = {o.name for o in graph.output}
    keep: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output if out):
            keep.append(node)
            needed.update(i for i in node.input if i)
    removed = len(graph.node) - len(keep)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    used = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(used)
    return removed


def _topological_sort(graph: onnx.GraphProto) -> None:
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = []
        for node in pending:
            if all(i in available for i in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise FusionSkipped("the fused graph has a cycle or a missing input")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)
