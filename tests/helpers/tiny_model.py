"""Tiny random Gemma 3 (and Gemma 2) causal LMs with a small trained BPE tokenizer, as HF folders.

2 layers, hidden 64, one sliding-window layer (window 16) and one full-attention layer,
so tests can go past the sliding window in a few dozen tokens. `tie_word_embeddings=False`
and `initializer_range=0.3` keep random weights from repeating one token forever.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a lighthouse keeper climbs the stairs every evening",
    "tools: calculator, python, files, clock; answer with json",
    '{"tool": "calculator", "arguments": {"expression": "2 + 2"}}',
    "User: what is the capital of france?\nAssistant: Paris is the capital.",
    "numbers 0 1 2 3 4 5 6 7 8 9 and symbols ( ) [ ] { } : , . ! ?",
    "café naïve façade – “quotes” — 東京 😀",
] * 20

SLIDING_WINDOW = 16


def build_tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=True, fuse_unk=False))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz▁"),
    )
    tok.train_from_iterator(CORPUS, trainer)
    # <0x00>..<0xFF> as ordinary vocabulary entries, as SentencePiece has them.
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    tok = Tokenizer.from_str(json.dumps(data))
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", 2)]
    )
    return str(tok.to_str())


#: What the tiny Gemma models share (two layers: sliding window 16, then full attention).
TINY_GEMMA = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "max_position_embeddings": 512,
    "sliding_window": SLIDING_WINDOW,
    "initializer_range": 0.3,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "bos_token_id": 2,
    "query_pre_attn_scalar": 32,
}


def build_hf_folder(folder: Path, seed: int = 0) -> Path:
    """Write the tiny model + tokenizer as a Hugging Face folder (deterministic for a seed)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    return _write_gemma(
        folder,
        seed,
        Gemma3TextConfig,
        Gemma3ForCausalLM,
        layer_types=["sliding_attention", "full_attention"],
        tie_word_embeddings=False,
    )


def build_gemma2_folder(folder: Path, seed: int = 0) -> Path:
    """A tiny random Gemma 2 with the same tokenizer, as a Hugging Face folder.

    Unlike the Gemma 3 model above, its lm_head is tied to the token embedding (as in
    every real Gemma 2 checkpoint) and it has attention and final-logit soft-capping.
    The same two layer types (sliding window 16, then full attention).
    """
    from transformers import Gemma2Config, Gemma2ForCausalLM

    return _write_gemma(folder, seed, Gemma2Config, Gemma2ForCausalLM, tie_word_embeddings=True)


def _write_gemma(
    folder: Path, seed: int, config_class: Any, model_class: Any, **extra: Any
) -> Path:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer_json = build_tokenizer_json()
    vocab = len(json.loads(tokenizer_json)["model"]["vocab"])
    config = config_class(vocab_size=vocab, **TINY_GEMMA, **extra)
    config.architectures = [model_class.__name__]
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    return folder
