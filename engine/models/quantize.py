"""Weight-only quantization of an exported causal LM: MatMulNBits and GatherBlockQuantized.

Never `quantize_dynamic` (it turned Gemma 3 into `' \\n \\n \\n'`): activations stay fp32,
only weights are stored in 4 or 8 bits in blocks along K, with one scale per block. Each
recipe names the bit width of the transformer-layer MatMuls, of the lm_head, and of the
token embedding (a Gather: 4 bits or kept in fp32). The packing itself is ONNX Runtime's
C++ block quantizer (`quantize_matmul_4bits` / `_8bits`), so the layout is exactly what
the MatMulNBits kernel expects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from engine.errors import PreparationError
from engine.models.graph import find_lm_head, save_model
from engine.progress import Reporter


@dataclass(frozen=True)
class Recipe:
    """How to store the weights of each kind of MatMul / Gather."""

    name: str
    layer_bits: int  # 4, 8, or 0 = keep fp32
    lm_head_bits: int
    embed_bits: int  # 4, 8 or 0 = keep fp32 (GatherBlockQuantized)
    block_size: int = 32
    symmetric: bool = True
    accuracy_level: int = 4  # int8 activations inside MatMulNBits; level 1 measured 1.9 tok/s
    algo: str = "rtn"  # "rtn" (round to nearest) | "hqq" (half-quadratic, needs torch)
    fp16: bool = False  # activations (and, with quantized layers, the KV cache) in float16
    rerank: int = 0  # re-score the lm_head's top-k exactly from 8-bit rows (0 = off)
    lm_head_block: int = 0  # block size of the lm_head alone (0 = block_size)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("fp32", 0, 0, 0, description="no quantization (the reference)"),
        Recipe("fp16", 0, 0, 0, fp16=True, description="weights and compute in float16"),
        Recipe("int8", 8, 8, 4, description="8-bit MatMuls, 4-bit embedding"),
        Recipe("int4", 4, 4, 4, description="4-bit everywhere (smallest, least faithful)"),
        Recipe(
            "int4-hqq",
            4,
            4,
            4,
            symmetric=False,
            algo="hqq",
            description="4-bit HQQ (asymmetric, optimised zero points)",
        ),
        Recipe(
            "int8-lm4",
            8,
            4,
            4,
            description="8-bit layers, 4-bit lm_head and embedding",
        ),
        Recipe("int8-e8", 8, 8, 8, description="8-bit everything, embedding included"),
        Recipe(
            "gpu",
            4,
            4,
            4,
            fp16=True,
            accuracy_level=0,
            description="for CUDA / DirectML: float16 activations and KV cache, 4-bit "
            "MatMulNBits (block 32), 4-bit embedding",
        ),
        Recipe(
            "gpu-b128",
            4,
            4,
            4,
            block_size=128,
            fp16=True,
            accuracy_level=0,
            description="the gpu recipe with blocks of 128 (smaller, a little less faithful)",
        ),
        Recipe(
            "int8-lm4-rerank",
            8,
            4,
            8,
            rerank=64,
            lm_head_block=128,
            description="8-bit layers and embedding; 4-bit lm_head (block 128) whose top "
            "64 are re-scored exactly from the 8-bit (tied) embedding rows",
        ),
    )
}


def recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise PreparationError(
            f"unknown quantization {name!r}: choose one of {', '.join(RECIPES)}"
        ) from None


def _pack(weight_kn: np.ndarray, bits: int, block: int, symmetric: bool) -> tuple[np.ndarray, ...]:
    """Block-quantize a [K, N] weight into MatMulNBits' [N, k_blocks, blob] layout."""
    from onnxruntime.capi._pybind_state import (
        quantize_matmul_2bits,
        quantize_matmul_4bits,
        quantize_matmul_8bits,
    )

    k, n = weight_kn.shape
    k_blocks = (k + block - 1) // block
    pad = k_blocks * block - k
    w = np.ascontiguousarray(weight_kn, dtype=np.float32)
    if pad:
        w = np.pad(w, ((0, pad), (0, 0)))
    per_byte = 8 // bits
    packed = np.zeros((n, k_blocks, block // per_byte), dtype=np.uint8)
    scales = np.zeros((n, k_blocks), dtype=np.float32)
    zero_points = np.zeros((n, (k_blocks + per_byte - 1) // per_byte), dtype=np.uint8)
    fn = {2: quantize_matmul_2bits, 4: quantize_matmul_4bits, 8: quantize_matmul_8bits}[bits]
    fn(packed, w, scales, zero_points, block, n, k + pad, symmetric)
    return packed, scales, zero_points


def _pack_hqq(weight_kn: np.ndarray, bits: int, block: int) -> tuple[np.ndarray, ...]:
    """HQQ (half-quadratic) 4-bit quantization via ONNX Runtime's implementation (torch)."""
    import torch
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        HQQWeightOnlyQuantConfig,
        HQQWeightOnlyQuantizer,
    )

    quantizer = HQQWeightOnlyQuantizer(HQQWeightOnlyQuantConfig(block_size=block, bits=bits))
    w = torch.from_numpy(np.ascontiguousarray(weight_kn, dtype=np.float32))
    q, scales, zeros = quantizer.quantize_internal(w.T, bits=bits, group_size=block)
    q = q.contiguous()
    per_byte = 8 // bits
    packed = torch.zeros((q.shape[0], q.shape[1] // per_byte), dtype=torch.uint8)
    quantizer.pack_on_row_fast_248bit(packed, q, bits)
    k, n = weight_kn.shape
    k_blocks = (k + block - 1) // block
    return (
        packed.numpy().reshape(n, k_blocks, block // per_byte),
        scales.numpy().reshape(n, k_blocks).astype(np.float32),
        zeros.numpy().reshape(n, k_blocks).astype(np.float32),
    )


def quantize(src: Path, dst: Path, rec: Recipe, report: Reporter) -> dict[str, Any]:
    """Quantize `src` (an fp32 export) into `dst` following `rec`; return what was done."""
    if rec.fp16 and not rec.layer_bits:
        return _to_fp16(src, dst, report)
    report("quantize", 0, 1, "loading fp32 graph")
    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    lm_head = find_lm_head(graph)
    weights = {
        i: found
        for i, node in enumerate(graph.node)
        if node.op_type == "MatMul"
        and (found := stored_weight(node.input[1], inits, producers)) is not None
    }
    targets = [
        (i, node)
        for i, node in enumerate(graph.node)
        if i in weights
        or (
            node.op_type == "Gather"
            and node.input[0] in inits
            and len(inits[node.input[0]].dims) == 2
            and rec.embed_bits
        )
    ]
    if rec.rerank and not any(graph.node[i].name == lm_head.name for i in weights):
        raise PreparationError(
            f"quantization {rec.name!r} re-scores the lm_head, but this graph computes the "
            f"lm_head's weight ({lm_head.input[1]!r}) instead of storing it; choose a recipe "
            "without re-scoring (e.g. --quant int8)"
        )
    summary: dict[str, Any] = {"matmuls": {}, "gathers": {}}
    replaced: dict[int, onnx.NodeProto] = {}
    new_inits: list[onnx.TensorProto] = []
    dropped: set[str] = set()
    embedding: np.ndarray | None = None
    embed_q: list[onnx.TensorProto] = []
    head_weight = np.zeros((0, 0), np.float32)
    for done, (index, node) in enumerate(targets):
        report("quantize", done, len(targets), node.name)
        if node.op_type == "Gather":
            weight = numpy_helper.to_array(inits[node.input[0]])
            q_node, tensors = _gather_node(node, weight, rec)
            summary["gathers"][node.name] = rec.embed_bits
            dropped.add(node.input[0])
            embedding, embed_q = weight, tensors
        else:
            bits = rec.lm_head_bits if node.name == lm_head.name else rec.layer_bits
            if not bits:
                continue
            stored, transposed = weights[index]
            weight = numpy_helper.to_array(inits[stored])
            if transposed:
                weight = np.ascontiguousarray(weight.T)
            block = rec.lm_head_block if node.name == lm_head.name and rec.lm_head_block else 0
            q_node, tensors = _matmul_node(node, weight, bits, rec, block or rec.block_size)
            summary["matmuls"][node.name] = bits
            dropped.add(stored)
            if node.name == lm_head.name:
                head_weight = weight
        replaced[index] = q_node
        new_inits.extend(tensors)
    report("quantize", len(targets), len(targets), "writing")
    nodes = [replaced.get(i, node) for i, node in enumerate(graph.node)]
    if rec.rerank and rec.lm_head_bits:
        head_index = next(i for i, n in enumerate(graph.node) if n.name == lm_head.name)
        tied = (
            embedding is not None
            and rec.embed_bits == 8
            and bool(np.array_equal(head_weight.T, embedding))
        )
        extra_nodes, extra_inits = _rerank(replaced[head_index], head_weight, embed_q, tied, rec)
        nodes[head_index + 1 : head_index + 1] = extra_nodes
        new_inits.extend(extra_inits)
        summary["rerank"] = {"top_k": rec.rerank, "rows": "tied embedding" if tied else "copy"}
    replace_nodes(model, _unread_views_removed(nodes, graph), dropped, new_inits)
    if rec.fp16:
        report("quantize", len(targets), len(targets), "float16 activations and KV cache")
        model = half_precision(model)
        summary["fp16"] = True
    save_model(model, dst)
    return summary


def half_precision(model: onnx.ModelProto) -> onnx.ModelProto:
    """Float16 activations, scales and KV cache (inputs and outputs past_key_values.* /
    present.* included); only `logits` stays float32 (a Cast at the end), for sampling."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted: onnx.ModelProto = convert_float_to_float16(
        model, keep_io_types=["logits"], disable_shape_infer=True
    )
    return converted


def _unread_views_removed(
    nodes: list[onnx.NodeProto], graph: onnx.GraphProto
) -> list[onnx.NodeProto]:
    """`nodes` without the Transpose / Identity nodes whose output nothing reads any more
    (the view a tied lm_head read the embedding through, once the lm_head is quantized)."""
    outputs = {o.name for o in graph.output}
    while True:
        read = outputs | {name for node in nodes for name in node.input}
        kept = [
            node
            for node in nodes
            if node.op_type not in ("Transpose", "Identity")
            or any(out in read for out in node.output)
        ]
        if len(kept) == len(nodes):
            return kept
        nodes = kept


def stored_weight(
    name: str, inits: dict[str, onnx.TensorProto], producers: dict[str, onnx.NodeProto]
) -> tuple[str, bool] | None:
    """The 2-D initializer a MatMul weight input reads, and whether it is read transposed.

    Usually the weight is the initializer itself. A tied lm_head is exported as
    `Transpose(embed_tokens.weight)` (optimum de-duplicates the tied copy), and some
    exports put an Identity in between; both are followed. None when the weight is
    computed from anything else (then the MatMul stays as it is).
    """
    transposed = False
    for _ in range(4):
        if name in inits:
            return (name, transposed) if len(inits[name].dims) == 2 else None
        node = producers.get(name)
        if node is None:
            return None
        perm = [list(a.ints) for a in node.attribute if a.name == "perm"]
        if node.op_type == "Transpose" and perm in ([], [[1, 0]]):
            transposed = not transposed
        elif node.op_type != "Identity":
            return None
        name = node.input[0]
    return None


def replace_nodes(
    model: onnx.ModelProto,
    nodes: list[onnx.NodeProto],
    dropped: set[str],
    new_inits: list[onnx.TensorProto],
) -> None:
    """`nodes` become the graph's nodes; the `dropped` initializers no node still reads
    go, `new_inits` are added; the com.microsoft domain (MatMulNBits...) is declared."""
    graph = model.graph
    still_used = {name for node in nodes for name in node.input}
    keep = [t for t in graph.initializer if t.name not in dropped or t.name in still_used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep + new_inits)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _rerank(
    head: onnx.NodeProto,
    head_weight: np.ndarray,
    embed_q: list[onnx.TensorProto],
    tied: bool,
    rec: Recipe,
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Re-score the quantized lm_head's top-k logits exactly.

    The 4-bit lm_head finds the candidates; their logits are recomputed from 8-bit rows
    of the same weight (the tied embedding table itself when it is 8-bit, which for a
    Q8_0 GGUF is exactly the source's values) and written back into the logits, so the
    tokens that can win are scored at 8-bit precision for the price of a 4-bit read.
    """
    out = head.output[0]
    approx = out + "/approx"
    head.output[0] = approx
    p = out + "/rerank"
    block = row_block(head_weight.shape[0], rec.block_size)  # as the embedding's rows
    tensors: list[onnx.TensorProto] = [
        numpy_helper.from_array(np.array([rec.rerank], np.int64), f"{p}/k"),
        numpy_helper.from_array(np.array([-1], np.int64), f"{p}/last_axis"),
    ]
    if tied:
        data, scales = embed_q[0].name, embed_q[1].name
    else:
        packed, row_scales, _ = _pack(head_weight, 8, block, True)
        table = [
            numpy_helper.from_array(packed.reshape(head_weight.shape[1], -1), f"{p}/rows_q8"),
            numpy_helper.from_array(row_scales, f"{p}/rows_scales"),
        ]
        tensors += table
        data, scales = table[0].name, table[1].name
    nodes = [
        helper.make_node(
            "TopK", [approx, f"{p}/k"], [f"{p}/values", f"{p}/ids"], axis=-1, name=f"{p}/topk"
        ),
        helper.make_node(
            "GatherBlockQuantized",
            [data, f"{p}/ids", scales],
            [f"{p}/rows"],
            domain="com.microsoft",
            gather_axis=0,
            quantize_axis=1,
            block_size=block,
            bits=8,
            name=f"{p}/rows",
        ),
        helper.make_node(
            "Unsqueeze", [head.input[0], f"{p}/last_axis"], [f"{p}/hidden"], name=f"{p}/hidden"
        ),
        helper.make_node(
            "MatMul", [f"{p}/rows", f"{p}/hidden"], [f"{p}/exact4"], name=f"{p}/exact4"
        ),
        helper.make_node(
            "Squeeze", [f"{p}/exact4", f"{p}/last_axis"], [f"{p}/exact"], name=f"{p}/exact"
        ),
        helper.make_node(
            "ScatterElements",
            [approx, f"{p}/ids", f"{p}/exact"],
            [out],
            axis=-1,
            name=f"{p}/scatter",
        ),
    ]
    return nodes, tensors


def _matmul_node(
    node: onnx.NodeProto, weight: np.ndarray, bits: int, rec: Recipe, block: int
) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    k, n = weight.shape
    base = node.input[1]
    if rec.algo == "hqq" and bits == 4:
        packed, scales, zeros = _pack_hqq(weight, bits, block)
        symmetric = False
    else:
        packed, scales, zeros = _pack(weight, bits, block, rec.symmetric)
        symmetric = rec.symmetric
    tensors = [
        numpy_helper.from_array(packed, f"{base}_q{bits}"),
        numpy_helper.from_array(scales.reshape(-1), f"{base}_scales"),
    ]
    inputs = [node.input[0], tensors[0].name, tensors[1].name]
    if not symmetric:
        tensors.append(numpy_helper.from_array(zeros.reshape(-1), f"{base}_zero_points"))
        inputs.append(tensors[2].name)
    q_node = helper.make_node(
        "MatMulNBits",
        inputs,
        list(node.output),
        name=node.name + f"_Q{bits}",
        domain="com.microsoft",
        K=k,
        N=n,
        bits=bits,
        block_size=block,
        accuracy_level=rec.accuracy_level,
    )
    return q_node, tensors


def row_block(hidden: int, block: int) -> int:
    """The block size for rows of `hidden` values: `block`, halved (down to 16) until the
    blocks tile a row exactly (a padded row would come out longer than `hidden`)."""
    while hidden % block and block > 16:
        block //= 2
    return block


def _gather_node(
    node: onnx.NodeProto, weight: np.ndarray, rec: Recipe
) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    """A 4- or 8-bit GatherBlockQuantized over an embedding table [vocab, hidden]."""
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    if axis != 0:
        raise PreparationError(f"embedding {node.name} gathers on axis {axis}; expected 0")
    vocab, hidden = weight.shape
    # Always symmetric round-to-nearest: one table row is read per token, precision is cheap.
    bits = rec.embed_bits
    block = row_block(hidden, rec.block_size)
    if hidden % block:
        raise PreparationError(
            f"embedding {node.name}: hidden size {hidden} is not a multiple of 16; choose a "
            "recipe that keeps the embedding in fp32 (--quant fp32 or fp16)"
        )
    packed, scales, _ = _pack(np.ascontiguousarray(weight.T), bits, block, True)
    # data [vocab, hidden * bits / 8] uint8, scales [vocab, k_blocks]; zero point implied
    # (8 for 4 bits, 128 for 8 bits), the same convention as symmetric MatMulNBits.
    k_blocks = scales.shape[1]
    base = node.input[0]
    tensors = [
        numpy_helper.from_array(packed.reshape(vocab, -1), f"{base}_q{bits}"),
        numpy_helper.from_array(scales.reshape(vocab, k_blocks), f"{base}_scales"),
    ]
    inputs = [tensors[0].name, node.input[1], tensors[1].name]
    q_node = helper.make_node(
        "GatherBlockQuantized",
        inputs,
        list(node.output),
        name=node.name + f"_Q{bits}",
        domain="com.microsoft",
        gather_axis=0,
        quantize_axis=1,
        block_size=block,
        bits=bits,
    )
    return q_node, tensors


def _to_fp16(src: Path, dst: Path, report: Reporter) -> dict[str, Any]:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    report("quantize", 0, 1, "converting to float16")
    model = onnx.load(str(src))
    model = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=True)
    save_model(model, dst)
    report("quantize", 1, 1, "float16")
    return {"fp16": True}
