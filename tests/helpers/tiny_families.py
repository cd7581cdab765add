"""Tiny random causal LMs of every family `model prepare` knows, as Hugging Face folders.

Each is 2 layers, hidden 64, with the tokenizer of tests/helpers/tiny_model.py, built from
a transformers config (nothing from a model hub) in about a second. The configs switch on
what makes each family different for attention fusion: grouped KV heads everywhere, q/k/v
biases (Qwen2), q/k norms per head (Qwen3, Gemma 3) or over all heads (OLMo 2), a fused
qkv projection with partial rotary (Phi-3), sliding windows (Mistral, Gemma 2/3), soft-capping
(Gemma 2), multipliers (Granite), a tied lm_head (SmolLM, Gemma 2), llama3 rope scaling
and layers without rotary (SmolLM3).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.helpers.cache import cache_root
from tests.helpers.tiny_model import SLIDING_WINDOW, TINY_GEMMA, build_tokenizer_json

_COMMON: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
    "initializer_range": 0.3,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "bos_token_id": 2,
    "tie_word_embeddings": False,
}

#: family -> (config class, model class, config fields beyond _COMMON)
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "llama": (
        "LlamaConfig",
        "LlamaForCausalLM",
        {
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
        },
    ),
    "smollm": ("LlamaConfig", "LlamaForCausalLM", {"tie_word_embeddings": True}),
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": SLIDING_WINDOW}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {"rope_theta": 1000000.0}),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {"head_dim": 32}),
    "phi3": (
        "Phi3Config",
        "Phi3ForCausalLM",
        {
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "partial_rotary_factor": 0.5,
            "sliding_window": SLIDING_WINDOW,
        },
    ),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", {**TINY_GEMMA, "tie_word_embeddings": True}),
    "gemma3": (
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        {**TINY_GEMMA, "layer_types": ["sliding_attention", "full_attention"]},
    ),
    "granite": (
        "GraniteConfig",
        "GraniteForCausalLM",
        {
            "embedding_multiplier": 12.0,
            "residual_multiplier": 0.22,
            "attention_multiplier": 0.0625,
            "logits_scaling": 8.0,
        },
    ),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", {}),
    # Every second layer without rotary (NoPE), as SmolLM3 has every fourth.
    "smollm3": ("SmolLM3Config", "SmolLM3ForCausalLM", {"no_rope_layer_interval": 2}),
}


def build_family_folder(family: str, folder: Path, seed: int = 0, **overrides: Any) -> Path:
    """Write a tiny random model of `family` (a key of FAMILIES) + tokenizer as a HF folder
    (`overrides`: config fields that differ from the family's tiny config)."""
    import torch
    import transformers

    config_name, model_name, extra = FAMILIES[family]
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer_json = build_tokenizer_json()
    vocab = len(json.loads(tokenizer_json)["model"]["vocab"])
    fields = {**_COMMON, **extra, **overrides}
    config = getattr(transformers, config_name)(vocab_size=vocab, **fields)
    model_class = getattr(transformers, model_name)
    config.architectures = [model_class.__name__]
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    return folder


def cached_family_folder(family: str) -> Path:
    """The tiny model of `family` in the test cache, built on first use; the folder's name
    carries a hash of the family's config, so a changed config is a new folder."""
    digest = hashlib.sha256(json.dumps(FAMILIES[family], sort_keys=True).encode()).hexdigest()
    folder = cache_root() / f"tiny-{family}-{digest[:8]}-hf"
    if not (folder / "model.safetensors").is_file():
        build_family_folder(family, folder)
    return folder
