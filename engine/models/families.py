"""What each causal-LM family's attention computes, read from its transformers config.

The fusion pass (engine/models/fuse.py) finds the nodes; this module says what the fused
GroupQueryAttention must do for the family: heads, head size, the softmax scale, attention
soft-capping, which layers slide over a window, which rotary table each layer uses (or
none), and whether q/k are RMS-normalised first. Rotary tables come from transformers' own
rope initialisers (default, linear, llama3, yarn, longrope's short factors), so they are
exactly the model's, partial rotary included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.manifest import family_of

__all__ = ["FUSED_FAMILIES", "MAX_CONTEXT", "AttentionSpec", "FusionSkipped", "family_of"]

#: Rotary tables are precomputed up to this many positions (the prepared context length).
MAX_CONTEXT = 8192

#: Families whose attention this pipeline fuses (config model_type, as transformers names it).
FUSED_FAMILIES = (
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "phi3",
    "gemma2",
    "gemma3",
    "granite",
    "olmo2",
    "smollm3",
)
#: Families that normalise q and k (RMSNorm) before rotary.
_QK_NORM = ("qwen3", "gemma3", "olmo2")


class FusionSkipped(Exception):
    """The graph or the config is not what the fusion knows; the message says what differed."""


@dataclass(frozen=True)
class AttentionSpec:
    """One family's attention, as GroupQueryAttention attributes and inputs."""

    family: str
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    scale: float
    softcap: float  # 0 = none
    window: int  # 0 = none
    sliding: tuple[bool, ...]  # per layer
    rotary: tuple[str, ...]  # per layer: the rotary table's name, "" = no rotary (NoPE)
    qk_norm: bool
    eps: float
    context: int


def attention_spec(config: dict[str, Any]) -> AttentionSpec:
    """The attention of `config`'s family; FusionSkipped when it is not one fused here."""
    fam = family_of(config)
    if fam not in FUSED_FAMILIES:
        raise FusionSkipped(
            f"no attention fusion for model_type {config.get('model_type')!r} "
            f"(fused families: {', '.join(FUSED_FAMILIES)})"
        )
    layers = int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or int(config["hidden_size"]) // heads)
    scale = head_dim**-0.5
    if fam in ("gemma2", "gemma3"):
        scale = float(config.get("query_pre_attn_scalar") or head_dim) ** -0.5
    elif fam == "granite":
        scale = float(config.get("attention_multiplier") or scale)
    window = int(config.get("sliding_window") or 0)
    if config.get("use_sliding_window") is False:
        window = 0
    layer_types = config.get("layer_types")
    if layer_types:
        sliding = tuple(t == "sliding_attention" and window > 0 for t in layer_types)
    else:
        sliding = (window > 0,) * layers
    rotary = ["global"] * layers
    if fam == "gemma3":
        rotary = ["local" if s else "global" for s in sliding]
    if fam == "smollm3":
        no_rope = config.get("no_rope_layers") or [1] * layers
        rotary = ["global" if use else "" for use in no_rope]
    context = int(min(config.get("max_position_embeddings") or MAX_CONTEXT, MAX_CONTEXT))
    scaling = config.get("rope_scaling") or {}
    rope_type = scaling.get("rope_type", scaling.get("type", "default"))
    if rope_type not in ("default", "linear", "llama3", "yarn", "longrope", "dynamic"):
        raise FusionSkipped(f"rope scaling {scaling} is not fused")
    if rope_type == "longrope":
        # The short factors hold up to the original context; the long ones need its length.
        original = config.get("original_max_position_embeddings") or context
        context = min(context, int(original))
    return AttentionSpec(
        family=fam,
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        scale=float(scale),
        softcap=float(config.get("attn_logit_softcapping") or 0.0),
        window=window,
        sliding=sliding,
        rotary=tuple(rotary),
        qk_norm=fam in _QK_NORM,
        eps=float(config.get("rms_norm_eps") or 1e-6),
        context=context,
    )


def rotary_tables(config: dict[str, Any], spec: AttentionSpec) -> dict[str, tuple[Any, Any]]:
    """name -> (cos, sin), each [context, rotary_dim / 2] float32, for the tables `spec` uses."""
    names = {name for name in spec.rotary if name}
    tables = {}
    for name in sorted(names):
        inv_freq, factor = _inv_freq(config, local=name == "local")
        angles = np.outer(np.arange(spec.context, dtype=np.float32), inv_freq).astype(np.float32)
        if len(inv_freq) % 8 or len(inv_freq) > spec.head_dim // 2:
            raise FusionSkipped(
                f"rotary over {2 * len(inv_freq)} of {spec.head_dim} head dimensions: "
                "GroupQueryAttention needs a multiple of 16, at most the head size"
            )
        tables[name] = (
            (np.cos(angles) * factor).astype(np.float32),
            (np.sin(angles) * factor).astype(np.float32),
        )
    return tables


def _inv_freq(config: dict[str, Any], local: bool) -> tuple[Any, float]:
    """transformers' own rope initialiser for this config: (inv_freq, attention factor)."""
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    fields = {k: v for k, v in config.items() if k not in ("model_type", "transformers_version")}
    if local:  # Gemma 3's sliding layers: their own base frequency, no scaling
        fields.update(rope_theta=config.get("rope_local_base_freq", 10000.0), rope_scaling=None)
    cfg = AutoConfig.for_model(str(config["model_type"]), **fields)
    scaling = getattr(cfg, "rope_scaling", None) or {}
    rope_type = scaling.get("rope_type", scaling.get("type", "default"))
    if rope_type == "dynamic":  # static up to max_position_embeddings, which bounds the context
        rope_type = "default"
    import torch

    inv_freq, factor = ROPE_INIT_FUNCTIONS[rope_type](cfg, torch.device("cpu"))
    return inv_freq.numpy().astype(np.float32), float(factor)
