"""Tiny byte-level BPE tokenizers, trained here, and GGUF files that carry them.

`train_byte_level(pre)` trains a few hundred merges on `MULTILINGUAL` with the
pre-tokenizer a Hugging Face ``tokenizer.json`` of that family has (the expressions below
are the originals of those files, with their ``(?i:...)`` groups). `write_gguf` writes the
vocabulary the way llama.cpp's converter does (``convert_hf_to_gguf.py``, its
``_set_vocab_gpt2``): tokens by id, special added tokens as control tokens, other added
tokens as user-defined ones, merges as "left right" strings, the pre-tokenizer name, the
bos/eos ids and flags, optionally a chat template and the tensors of a tiny Llama.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: English, German with umlauts, Chinese, emoji, code and digits.
MULTILINGUAL = """\
The quick brown fox jumps over the lazy dog. It's 12:45 and we've got 3,141,592 reasons.
Don't panic: they'll say I'd rather WAIT than RUN.  Two spaces,   three, and a tab\there.
Größere Äpfel schmecken süßer als kleine Öle; über die Brücke gehen Müller und Weiß.
Fußgänger überqueren die Straße bei Grün. ÄÖÜ äöü ß.
我们今天去北京。中文文本的分词测试：你好，世界！人工智能正在改变世界。
Emoji: 😀 👍🏽 👨‍👩‍👧 🎉🎉 ❤️ 🚀
def fib(n: int) -> list[int]:
    seq = [0, 1]
    while len(seq) < n:
        seq.append(seq[-1] + seq[-2])  # sum of the last two
    return seq[:n]

if x != 0 and y >= 10_000: print(f"{x/y:.3f}")\r\n
Numbers: 0 1 22 333 4444 55555 666666 1234567890 3.14159 -42 1e-9 0x1F
"""

#: The training text: the sample many times over, plus a few more lines of each kind.
CORPUS = [
    MULTILINGUAL,
    "The people of the city walk along the river in the evening, talking and laughing.",
    "Die Kinder spielen im Garten, während die Großeltern Kaffee trinken und Kuchen essen.",
    "机器学习模型需要大量的数据来训练，然后才能回答问题。",
    "for i in range(10):\n    total += i * i\nreturn {'total': total, 'ok': True}",
    "2024-12-04 18:30:00 UTC: 1,024 tokens at 98.5 tok/s; 16 GB RAM.",
] * 10

#: Hugging Face pre-tokenizer expressions, as the families' tokenizer.json files have them.
HF_LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
HF_QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
HF_GPT4O = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

#: Special (control) tokens, the turn markers of several chat formats among them (Llama 3,
#: ChatML, Gemma, Phi-3), and two user-defined (non-special) added tokens.
BOS, EOS, EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
SPECIALS = [
    BOS,
    EOS,
    EOT,
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|im_start|>",
    "<|im_end|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
]
USER_DEFINED = ["<think>", "</think>"]


def _hf_pre_tokenizer(pre: str) -> Any:
    from tokenizers import Regex, pre_tokenizers

    def split(pattern: str) -> Any:
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )

    if pre == "gpt-2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    patterns = {"llama-bpe": HF_LLAMA3, "qwen2": HF_QWEN2, "gpt-4o": HF_GPT4O}
    return split(patterns[pre])


def train_byte_level(pre: str, vocab_size: int = 700) -> Any:
    """A byte-level BPE `tokenizers.Tokenizer` trained on CORPUS with `pre`'s splitting.

    Llama 3's tokenizer takes a word that is in the vocabulary whole (ignore_merges); the
    "llama-bpe" tokenizer does the same, as its tokenizer.json says.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, trainers
    from tokenizers.pre_tokenizers import ByteLevel

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = _hf_pre_tokenizer(pre)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in USER_DEFINED])
    if pre == "llama-bpe":
        data = json.loads(tokenizer.to_str())
        data["model"]["ignore_merges"] = True
        tokenizer = Tokenizer.from_str(json.dumps(data))
    return tokenizer


def with_bos(tokenizer: Any) -> Any:
    """A copy of `tokenizer` adding <|begin_of_text|> in front of every sequence, as Llama
    3's does."""
    from tokenizers import Tokenizer, processors

    tokenizer = Tokenizer.from_str(tokenizer.to_str())
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS} $B",
        special_tokens=[(BOS, tokenizer.token_to_id(BOS))],
    )
    return tokenizer


def write_gguf(
    path: Path,
    tokenizer: Any,
    pre: str,
    *,
    add_bos: bool | None,
    chat_template: str | None = None,
    eos: str = EOS,
    tensors: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> Path:
    """Write `tokenizer` (a trained byte-level `tokenizers.Tokenizer`) as a GGUF vocabulary.

    `add_bos` None leaves the flag out of the file. `tensors` (name -> numpy array, in
    llama.cpp's names) and `config` (a Llama config dict) make it a loadable tiny model.
    """
    import gguf

    data = json.loads(tokenizer.to_str())
    added = {t["id"]: t for t in data["added_tokens"]}
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    by_id = {token_id: token for token, token_id in vocab.items()}
    tokens: list[str] = []
    types: list[int] = []
    for token_id in range(len(by_id)):
        token = by_id[token_id]
        tokens.append(token)
        if token_id in added:
            special = added[token_id]["special"]
            kind = gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED
        else:
            kind = gguf.TokenType.NORMAL
        types.append(int(kind))
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]

    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_name(f"tiny {pre}")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab[BOS])
    writer.add_eos_token_id(vocab[eos])
    if add_bos is not None:
        writer.add_add_bos_token(add_bos)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    if config is not None:
        _add_llama_config(writer, config, len(tokens))
    for name, array in (tensors or {}).items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add_llama_config(writer: Any, config: dict[str, Any], vocab_size: int) -> None:
    heads = config["num_attention_heads"]
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_rope_dimension_count(config["hidden_size"] // heads)
    writer.add_rope_freq_base(config.get("rope_theta", 10000.0))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(vocab_size)
    writer.add_file_type(0)  # all F32


#: The tiny Llama's shape: 2 layers, hidden 64, grouped-query attention.
TINY_LLAMA = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,  # an agent's prompt in a 700-token vocabulary
    "rms_norm_eps": 1e-5,
    "initializer_range": 0.3,
    "tie_word_embeddings": False,
}

_GGUF_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_GGUF_LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def _tiny_llama(tokenizer: Any, eos: str, bos: str = BOS) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
        bos_token_id=tokenizer.token_to_id(bos),
        eos_token_id=tokenizer.token_to_id(eos),
        **TINY_LLAMA,
    )
    config.architectures = ["LlamaForCausalLM"]
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval()


def tiny_llama_gguf(path: Path, tokenizer: Any, pre: str, chat_template: str | None) -> Path:
    """A tiny random Llama (2 layers, hidden 64) with `tokenizer` as one GGUF file.

    With a chat template, <|end_of_text|> stays the end-of-sequence token: the end of
    turn must come from the template.
    """
    model = _tiny_llama(tokenizer, EOS)
    return write_gguf(
        path,
        tokenizer,
        pre,
        add_bos=True,
        chat_template=chat_template,
        tensors=_gguf_tensors(model),
        config=model.config.to_dict(),
    )


def _gguf_tensors(model: Any) -> dict[str, Any]:
    """A Llama's weights under llama.cpp's tensor names."""
    tensors = {}
    for name, value in model.state_dict().items():
        if name.startswith("model.layers."):
            _, _, index, rest = name.split(".", 3)
            target = f"blk.{index}.{_GGUF_LAYER_NAMES[rest.rsplit('.', 1)[0]]}.weight"
        else:
            target = _GGUF_NAMES[name]
        tensors[target] = value.detach().float().numpy().copy()
    return tensors


def tiny_sentencepiece_gguf(path: Path) -> Path:
    """A tiny random Llama with a SentencePiece-BPE vocabulary ("llama" kind, Llama 2 /
    Mistral style: space prefix, byte fallback, <bos> added), as llama.cpp's converter
    writes one: scores falling with the merge order, <0xXX> byte tokens, control tokens.

    The vocabulary is the tiny Gemma models' trained BPE (tests/helpers/tiny_model.py).
    """
    import gguf
    from tokenizers import Tokenizer

    from tests.helpers.tiny_model import build_tokenizer_json

    tokenizer = Tokenizer.from_str(build_tokenizer_json())
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    kinds = {"<unk>": gguf.TokenType.UNKNOWN, "<pad>": gguf.TokenType.CONTROL}
    kinds |= {"<bos>": gguf.TokenType.CONTROL, "<eos>": gguf.TokenType.CONTROL}
    types, scores = [], []
    for token_id, token in enumerate(tokens):
        byte = token.startswith("<0x") and token.endswith(">") and len(token) == 6
        types.append(int(kinds.get(token, gguf.TokenType.BYTE if byte else gguf.TokenType.NORMAL)))
        scores.append(-float(token_id))
    model = _tiny_llama(tokenizer, "<eos>", bos="<bos>")
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_name("tiny sentencepiece")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(vocab["<bos>"])
    writer.add_eos_token_id(vocab["<eos>"])
    writer.add_unk_token_id(vocab["<unk>"])
    writer.add_add_bos_token(True)
    writer.add_add_space_prefix(True)
    _add_llama_config(writer, model.config.to_dict(), len(tokens))
    for name, array in _gguf_tensors(model).items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_llama_folder(
    folder: Path,
    tokenizer: Any,
    chat_template: str | None,
    in_jinja_file: bool = False,
    adds_bos: bool = True,
) -> Path:
    """The same tiny Llama as a Hugging Face folder; its chat template in
    tokenizer_config.json, or in chat_template.jinja when `in_jinja_file`; its
    tokenizer.json adds <|begin_of_text|> itself unless `adds_bos` is off."""
    folder.mkdir(parents=True, exist_ok=True)
    _tiny_llama(tokenizer, EOS).save_pretrained(folder, safe_serialization=True)
    (with_bos(tokenizer) if adds_bos else tokenizer).save(str(folder / "tokenizer.json"))
    config: dict[str, Any] = {"bos_token": BOS, "eos_token": EOS}
    if chat_template is not None and in_jinja_file:
        (folder / "chat_template.jinja").write_text(chat_template, encoding="utf-8")
    elif chat_template is not None:
        config["chat_template"] = chat_template
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder
