"""The pre-tokenizers of byte-level BPE vocabularies in GGUF files (``tokenizer.ggml.pre``).

A byte-level BPE vocabulary (``tokenizer.ggml.model == "gpt2"``) is split into words by
one or more regular expressions before its merges run; the GGUF file names the family
in ``tokenizer.ggml.pre`` and llama.cpp keeps the expressions in its source. The same
expressions are written here, as data, from reading llama.cpp's ``llama-vocab.cpp``
(its ``llm_tokenizer_bpe`` constructor and the name table of ``llama_vocab::load``):
several names share one expression. The case-insensitive contraction group of the
Hugging Face originals, ``(?i:'s|'t|...)``, is spelled out as ``'[sS]|'[tT]|...`` as
llama.cpp does, so both tokenize alike.

Each expression splits the pieces left by the previous one; what it matches and what lies
between matches both stay as pieces (the ``tokenizers`` library's ``Split`` with the
"isolated" behaviour). Names missing from this table are refused with the list of those
that are known, rather than guessed (llama.cpp falls back to a default and warns).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ModelError

__all__ = ["PRE_TOKENIZERS", "PreTokenizer", "pre_tokenizer"]

_CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_LLAMA3 = (
    _CONTRACTIONS
    + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
    _CONTRACTIONS
    + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_UPPER = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"
_LOWER = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
_GPT4O = (
    rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+{_CONTRACTIONS}?"
    rf"|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*{_CONTRACTIONS}?"
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_TEKKEN = (
    rf"[^\r\n\p{{L}}\p{{N}}]?{_UPPER}*{_LOWER}+"
    rf"|[^\r\n\p{{L}}\p{{N}}]?{_UPPER}+{_LOWER}*"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True)
class PreTokenizer:
    """How one family of byte-level vocabularies splits text before merging."""

    family: str  # a readable name for messages and docs
    patterns: tuple[str, ...]
    #: A word that is itself a vocabulary entry is taken whole, without merging (Llama 3).
    ignore_merges: bool = False
    #: Whether <bos> is added when the file has no ``tokenizer.ggml.add_bos_token`` flag.
    add_bos: bool = False


_FAMILIES = (
    (
        PreTokenizer("Llama 3", (_LLAMA3,), ignore_merges=True, add_bos=True),
        ("llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"),
    ),
    (PreTokenizer("DBRX (cl100k)", (_LLAMA3,)), ("dbrx", "smaug-bpe")),
    (PreTokenizer("Qwen 2", (_QWEN2,)), ("qwen2", "deepseek-r1-qwen", "megrez", "stablelm2")),
    (PreTokenizer("GPT-2", (_GPT2,)), ("gpt-2", "phi-2", "mpt", "olmo")),
    (
        PreTokenizer("SmolLM / StarCoder", (r"\p{N}", _GPT2)),
        ("smollm", "starcoder", "refact", "command-r", "codeshell"),
    ),
    (PreTokenizer("GPT-4o (o200k, Phi-4-mini)", (_GPT4O,)), ("gpt-4o", "llama4")),
    (
        # llama.cpp's fallback for byte-level files named "default": punctuation runs,
        # GPT-2's words, digit runs, then those cut into threes.
        PreTokenizer(
            "llama.cpp default",
            (r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", "[0-9][0-9][0-9]"),
        ),
        ("default",),
    ),
    (
        PreTokenizer("Mistral Tekken", (_TEKKEN,), ignore_merges=True, add_bos=True),
        ("tekken",),
    ),
)

#: ``tokenizer.ggml.pre`` value -> its pre-tokenizer.
PRE_TOKENIZERS: dict[str, PreTokenizer] = {
    name: family for family, names in _FAMILIES for name in names
}


def pre_tokenizer(pre: str, model_name: str = "") -> PreTokenizer:
    """The pre-tokenizer a ``tokenizer.ggml.pre`` value names, or a ModelError naming the
    value and the values that are supported."""
    found = PRE_TOKENIZERS.get(pre)
    if found is not None:
        return found
    which = f" of {model_name}" if model_name else ""
    value = f"is {pre!r}" if pre else "is missing (the file predates the key)"
    raise ModelError(
        f"The byte-level BPE vocabulary{which} cannot be rebuilt: its pre-tokenizer "
        f"(tokenizer.ggml.pre) {value}. Supported: {', '.join(sorted(PRE_TOKENIZERS))}. "
        "Convert the model again with a current llama.cpp, or prepare it from its "
        "Hugging Face folder instead."
    )
