"""Which MatMul weights the quantizer can read (no model needed: hand-built graphs)."""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from engine.models.quantize import stored_weight


def _graph_parts(*nodes):  # type: ignore[no-untyped-def]
    table = numpy_helper.from_array(np.zeros((8, 4), np.float32), "embed")
    bias = numpy_helper.from_array(np.zeros((4,), np.float32), "bias")
    inits = {t.name: t for t in (table, bias)}
    producers = {out: node for node in nodes for out in node.output}
    return inits, producers


def test_a_stored_weight_is_read_as_it_is() -> None:
    inits, producers = _graph_parts()
    assert stored_weight("embed", inits, producers) == ("embed", False)
    assert stored_weight("bias", inits, producers) is None  # not 2-D


def test_a_tied_lm_head_reads_the_embedding_through_a_transpose() -> None:
    inits, producers = _graph_parts(
        helper.make_node("Transpose", ["embed"], ["embed_t"]),
        helper.make_node("Identity", ["embed_t"], ["embed_t2"]),
        helper.make_node("Transpose", ["embed"], ["embed_p"], perm=[1, 0]),
    )
    assert stored_weight("embed_t", inits, producers) == ("embed", True)
    assert stored_weight("embed_t2", inits, producers) == ("embed", True)
    assert stored_weight("embed_p", inits, producers) == ("embed", True)


def test_a_computed_weight_is_left_alone() -> None:
    inits, producers = _graph_parts(
        helper.make_node("Mul", ["embed", "embed"], ["squared"]),
        helper.make_node("Transpose", ["squared"], ["squared_t"]),
    )
    assert stored_weight("squared_t", inits, producers) is None
    assert stored_weight("activations", inits, producers) is None
