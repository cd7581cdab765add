"""Reference generations from optimum, to compare our loop against token for token."""

from __future__ import annotations

from pathlib import Path

import pytest


def optimum_greedy(folder: Path, ids: list[int], n: int) -> list[int]:
    """`n` greedy tokens from optimum's ORTModelForCausalLM.generate on the same ONNX file."""
    torch = pytest.importorskip("torch")
    from optimum.onnxruntime import ORTModelForCausalLM

    model = ORTModelForCausalLM.from_pretrained(
        folder, file_name="model.onnx", use_cache=True, provider="CPUExecutionProvider"
    )
    x = torch.tensor([ids])
    out = model.generate(
        input_ids=x,
        attention_mask=torch.ones_like(x),
        max_new_tokens=n,
        min_new_tokens=n,
        do_sample=False,
        pad_token_id=0,
    )
    return [int(t) for t in out[0, len(ids) :]]
