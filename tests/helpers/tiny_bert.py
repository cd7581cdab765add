"""A tiny random BERT sentence encoder with a trained WordPiece tokenizer, as a HF folder."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = [
    "the lighthouse keeper climbs the stairs",
    "memory items are stored in sqlite and indexed by faiss",
    "agents plan, act, observe and reflect",
    "a quick brown fox jumps over the lazy dog",
] * 10


def build_tiny_bert(folder: Path, seed: int = 0) -> Path:
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    tok = BertWordPieceTokenizer(lowercase=True)
    tok.train_from_iterator(CORPUS, vocab_size=200, show_progress=False)
    tok.save(str(folder / "tokenizer.json"))
    vocab = len(json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"])
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    config.architectures = ["BertModel"]
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(folder, safe_serialization=True)
    return folder
