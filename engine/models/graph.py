"""ONNX graph edits made during preparation, and saving with external data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import helper, numpy_helper

from engine.errors import PreparationError

#: ONNX Runtime 1.24+ reads IR versions up to 10 reliably; newer onnx writes 11+.
IR_VERSION = 10
_ELEMENTWISE = {"Div", "Tanh", "Mul", "Add", "Cast", "Softcap", "Identity"}


def find_lm_head(graph: onnx.GraphProto) -> onnx.NodeProto:
    """The MatMul that produces the logits (walking back through elementwise ops)."""
    producers = {out: node for node in graph.node for out in node.output}
    name = "logits"
    for _ in range(16):
        node = producers.get(name)
        if node is None:
            break
        if node.op_type in ("MatMul", "MatMulNBits", "Gemm"):
            return node
        if node.op_type not in _ELEMENTWISE:
            break
        name = node.input[0]
    raise PreparationError("cannot find the lm_head MatMul that produces `logits` in this graph")


def keep_last_logits(model: onnx.ModelProto) -> bool:
    """Compute the lm_head for the last position only (prefill needs no other logits).

    Inserts a Slice [:, -1:, :] on the lm_head's input. Returns False when already done.
    """
    graph = model.graph
    head = find_lm_head(graph)
    if head.input[0].endswith("/last_position"):
        return False
    sliced = head.input[0] + "/last_position"
    consts = [
        numpy_helper.from_array(value, f"{sliced}/{label}")
        for label, value in (("starts", _i64([-1])), ("ends", _i64([2**62])), ("axes", _i64([1])))
    ]
    graph.initializer.extend(consts)
    slice_node = helper.make_node(
        "Slice", [head.input[0], *(c.name for c in consts)], [sliced], name=sliced
    )
    index = list(graph.node).index(head)
    graph.node.insert(index, slice_node)
    head.input[0] = sliced
    return True


def _i64(values: list[int]):  # type: ignore[no-untyped-def]
    import numpy as np

    return np.asarray(values, dtype=np.int64)


def save_model(model: onnx.ModelProto, path: Path) -> list[Path]:
    """Save `model` as path + path.data (external data); return the files written."""
    model.ir_version = min(model.ir_version, IR_VERSION) if model.ir_version else IR_VERSION
    data_name = path.name + ".data"
    for stale in (path, path.with_name(data_name)):
        stale.unlink(missing_ok=True)
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data_name,
        size_threshold=1024,
    )
    return [p for p in (path, path.with_name(data_name)) if p.exists()]


LEAN_MODEL = "model.lean.onnx"


def write_lean_graph(folder: Path) -> dict[str, Any] | None:
    """Write `model.lean.onnx`: the graph without its 8-bit token table, for the CPU runtime.

    The tied 8-bit embedding table (189 MB for Gemma 3 270M) is read a handful of rows per
    token: one row per input token, and the 64 rows the lm_head re-scoring needs. Inside
    ONNX Runtime it is resident whole; outside, the runtime reads just those rows from
    `model.onnx.data` with pread (engine/llm/rows.py), so they cost page cache, not RSS.
    The lean graph takes `inputs_embeds` instead of `input_ids`, and returns the
    approximate logits plus `rerank_ids` and `rerank_hidden` for the runtime to re-score.
    `model.onnx` is untouched (optimum and other tools run it); both share the data file.
    Returns the table's location, or None when the graph is not of this shape.
    """
    from engine.models.fuse import remove_dead_nodes

    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    inits = {t.name: t for t in graph.initializer}
    embed = next(
        (
            n
            for n in graph.node
            if n.op_type == "GatherBlockQuantized" and n.input[1] == "input_ids"
        ),
        None,
    )
    scatter = producers.get("logits")
    if embed is None or scatter is None or scatter.op_type != "ScatterElements":
        return None
    approx = producers.get(scatter.input[0])
    topk = producers.get(scatter.input[1])
    rows = next(
        (
            n
            for n in graph.node
            if n.op_type == "GatherBlockQuantized"
            and topk is not None
            and n.input[1] == topk.output[1]
        ),
        None,
    )
    if approx is None or topk is None or rows is None or rows.input[0] != embed.input[0]:
        return None
    data, scales = inits.get(embed.input[0]), inits.get(embed.input[2])
    if data is None or scales is None or len(embed.input) > 3:
        return None
    if data.data_location != onnx.TensorProto.EXTERNAL:
        return None
    attrs = {a.name: a.i for a in embed.attribute}
    hidden_name = approx.input[0]
    # Inputs: inputs_embeds replaces input_ids + the table lookup.
    for node in graph.node:
        for j, name in enumerate(node.input):
            if name == embed.output[0]:
                node.input[j] = "inputs_embeds"
    hidden = int(data.dims[1]) * 8 // int(attrs.get("bits", 4))
    old_inputs = [i for i in graph.input if i.name != "input_ids"]
    del graph.input[:]
    graph.input.extend(old_inputs)
    graph.input.insert(
        0,
        helper.make_tensor_value_info(
            "inputs_embeds", onnx.TensorProto.FLOAT, ["batch_size", "sequence_length", hidden]
        ),
    )
    # Outputs: approximate logits, the candidates and the hidden state they are scored with.
    scatter.output[0] = "logits/unused"
    approx.output[0] = "logits"
    topk.input[0] = "logits"
    graph.output.extend(
        [
            helper.make_tensor_value_info(topk.output[1], onnx.TensorProto.INT64, None),
            helper.make_tensor_value_info(hidden_name, onnx.TensorProto.FLOAT, None),
        ]
    )
    remove_dead_nodes(graph)
    onnx.save_model(model, str(folder / LEAN_MODEL))

    def where(tensor: onnx.TensorProto) -> dict[str, Any]:
        info = {entry.key: entry.value for entry in tensor.external_data}
        return {
            "file": info["location"],
            "offset": int(info.get("offset", 0)),
            "shape": [int(d) for d in tensor.dims],
            "dtype": str(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)),
        }

    return {
        "model": LEAN_MODEL,
        "data": where(data),
        "scales": where(scales),
        "bits": int(attrs.get("bits", 4)),
        "block_size": int(attrs["block_size"]),
        "hidden": hidden,
        "ids_output": topk.output[1],
        "hidden_output": hidden_name,
    }
