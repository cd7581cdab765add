"""Fuse each decoder layer's attention into one GroupQueryAttention node.

optimum's export spends ~100 small nodes per layer on masks, rotary embeddings, reshapes
and the attention itself; on a 2-core CPU their dispatch cost is about half of the time
per decoded token. This pass replaces, per layer, everything between the q/k/v
projections (after their biases, or one packed qkv projection) and the o_proj input by:

    q_proj -> [q_norm: SimplifiedLayerNormalization] --\
    k_proj -> [k_norm: SimplifiedLayerNormalization] ---> GroupQueryAttention (rotary,
    v_proj -----------------------------------------/     sliding window, softcap)

(q/k norms per head or over all heads, where the family has them)
and then removes the nodes nothing reads any more. What the attention must compute for the
family (scale, soft-capping, sliding layers, rotary tables per layer, q/k norms) comes from
engine/models/families.py. The graph keeps optimum's inputs and outputs (input_ids,
attention_mask, past_key_values.*, logits, present.*), so optimum can still run it. When the
graph does not look as expected the pass changes nothing and says why: fusion is an
optimisation, never a requirement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.models.families import (
    MAX_CONTEXT,
    AttentionSpec,
    FusionSkipped,
    attention_spec,
    rotary_tables,
)

__all__ = ["FUSION_VERSION", "MAX_CONTEXT", "FusionSkipped", "fuse_attention", "remove_dead_nodes"]

#: Bump when the fusion learns something new: a cached export left unfused by an older
#: version is exported and fused again (a fused one is kept).
FUSION_VERSION = 2


def fuse_attention(model: onnx.ModelProto, config: dict[str, Any]) -> dict[str, Any]:
    """Fuse attention in place. Returns {"fused_layers": n, "context": c, ...} or
    {"skipped": why}; either way with the fusion "version"."""
    try:
        return {**_fuse(model, config), "version": FUSION_VERSION}
    except FusionSkipped as exc:
        return {"skipped": str(exc), "version": FUSION_VERSION}


@dataclass(frozen=True)
class _Layer:
    """Where one layer's attention starts and ends in optimum's graph."""

    q: str  # the query projection's output, or the packed q|k|v projection's
    k: str  # "" when q is packed
    v: str
    o_proj: onnx.NodeProto  # reads the attention's output as input[0]
    q_norm: tuple[str, bool] | None  # (scale initializer, per head?)
    k_norm: tuple[str, bool] | None


def _find_layer(
    i: int,
    spec: AttentionSpec,
    nodes: dict[str, onnx.NodeProto],
    constant: Any,
    shape_of: Any,
) -> _Layer:
    base = f"/model/layers.{i}/self_attn"

    def projection(name: str) -> str:
        """The projection's output, after its bias when it has one (Qwen2)."""
        bias = nodes.get(f"{base}/{name}/Add")
        return bias.output[0] if bias is not None else nodes[f"{base}/{name}/MatMul"].output[0]

    def norm(name: str) -> tuple[str, bool] | None:
        node = nodes.get(f"{base}/{name}/Mul_1")
        if node is None:
            return None
        scale = next((c for c in map(constant, node.input) if c is not None), None)
        if scale is None:
            raise FusionSkipped(f"layer {i}: the {name} weight is not a constant")
        size = shape_of(scale)
        if size == spec.head_dim:
            return scale, True
        heads = spec.heads if name == "q_norm" else spec.kv_heads
        if size == heads * spec.head_dim:
            return scale, False
        raise FusionSkipped(f"layer {i}: {name} has {size} weights")

    try:
        o_proj = nodes[f"{base}/o_proj/MatMul"]
        if f"{base}/qkv_proj/MatMul" in nodes:
            q, k, v = projection("qkv_proj"), "", ""
        else:
            q, k, v = projection("q_proj"), projection("k_proj"), projection("v_proj")
    except KeyError as exc:
        raise FusionSkipped(f"layer {i}: node {exc} not found") from None
    q_norm, k_norm = norm("q_norm"), norm("k_norm")
    if spec.qk_norm and (q_norm is None or k_norm is None or not k):
        raise FusionSkipped(f"layer {i}: the {spec.family} q_norm/k_norm were not found")
    if not spec.qk_norm and (q_norm is not None or k_norm is not None):
        raise FusionSkipped(f"layer {i}: unexpected q/k norms in a {spec.family} graph")
    return _Layer(q, k, v, o_proj, q_norm, k_norm)


def _fuse(model: onnx.ModelProto, config: dict[str, Any]) -> dict[str, Any]:
    spec = attention_spec(config)
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

    def shape_of(name: str) -> int:
        return int(np.prod(inits[name].dims))

    heads, kv_heads, head_dim = spec.heads, spec.kv_heads, spec.head_dim
    found = [_find_layer(i, spec, nodes, constant, shape_of) for i in range(spec.layers)]
    outputs = {o.name for o in graph.output}
    for i in range(spec.layers):
        if f"present.{i}.key" not in outputs or f"present.{i}.value" not in outputs:
            raise FusionSkipped(f"layer {i}: no present.{i}.key output")

    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    p = "/fused"
    for name, (cos, sin) in rotary_tables(config, spec).items():
        new_inits += [
            numpy_helper.from_array(cos, f"{p}/{name}/cos"),
            numpy_helper.from_array(sin, f"{p}/{name}/sin"),
        ]
    new_inits += [
        numpy_helper.from_array(np.array([1], np.int64), f"{p}/axis1"),
        numpy_helper.from_array(np.array(1, np.int64), f"{p}/one"),
        numpy_helper.from_array(np.array([0, 0, heads, head_dim], np.int64), f"{p}/q_heads"),
        numpy_helper.from_array(np.array([0, 0, kv_heads, head_dim], np.int64), f"{p}/kv_heads"),
        numpy_helper.from_array(np.array([0, 0, heads * head_dim], np.int64), f"{p}/q_flat"),
        numpy_helper.from_array(np.array([0, 0, kv_heads * head_dim], np.int64), f"{p}/kv_flat"),
    ]
    new_nodes += _sequence_lengths(p)
    rewires: list[tuple[onnx.NodeProto, str]] = []
    for i, layer in enumerate(found):
        f = f"{p}/layers.{i}"
        q, k = layer.q, layer.k
        if layer.q_norm is not None and layer.k_norm is not None:
            new_nodes += _norm(q, layer.q_norm, f"{p}/q_heads", f"{p}/q_flat", f"{f}/q", spec.eps)
            new_nodes += _norm(k, layer.k_norm, f"{p}/kv_heads", f"{p}/kv_flat", f"{f}/k", spec.eps)
            q, k = f"{f}/q", f"{f}/k"
        rope = spec.rotary[i]
        attrs: dict[str, Any] = {
            "num_heads": heads,
            "kv_num_heads": kv_heads,
            "scale": spec.scale,
            "do_rotary": int(bool(rope)),
            "rotary_interleaved": 0,
            "local_window_size": spec.window if spec.sliding[i] else -1,
        }
        if spec.softcap:
            attrs["softcap"] = spec.softcap
        new_nodes.append(
            helper.make_node(
                "GroupQueryAttention",
                [
                    q,
                    k,
                    layer.v,
                    f"past_key_values.{i}.key",
                    f"past_key_values.{i}.value",
                    f"{p}/seqlens_k",
                    f"{p}/total_len",
                    *((f"{p}/{rope}/cos", f"{p}/{rope}/sin") if rope else ()),
                ],
                [f"{f}/attn", f"present.{i}.key", f"present.{i}.value"],
                domain="com.microsoft",
                name=f"{f}/gqa",
                **attrs,
            )
        )
        rewires.append((layer.o_proj, f"{f}/attn"))
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
        "fused_layers": spec.layers,
        "fused_gelu": gelus,
        "context": spec.context,
        "removed_nodes": removed,
    }


def _sequence_lengths(p: str) -> list[onnx.NodeProto]:
    """seqlens_k = sum(attention_mask) - 1, total_sequence_length = attention_mask.shape[1]."""
    return [
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


def _norm(
    x: str, norm: tuple[str, bool], heads_shape: str, flat_shape: str, out: str, eps: float
) -> list[onnx.NodeProto]:
    """RMS-normalise a [B, S, H*D] projection: each head (Qwen3, Gemma 3's q_norm / k_norm),
    or the whole projection at once (OLMo 2)."""
    scale, per_head = norm
    if not per_head:
        return [
            helper.make_node(
                "SimplifiedLayerNormalization",
                [x, scale],
                [out],
                axis=-1,
                epsilon=eps,
                name=f"{out}_norm",
            )
        ]
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
            # The graph is already changed here: not a skip, a failure of the fuse stage.
            raise RuntimeError("the fused graph has a cycle or a missing input")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)
