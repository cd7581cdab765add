"""ONNX graph edits made during preparation, and saving with external data."""

from __future__ import annotations

from pathlib import Path

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
