"""Rebuild a Hugging Face ``tokenizer.json`` from the vocabulary stored in a GGUF file.

A GGUF file carries its tokenizer as plain arrays (``tokenizer.ggml.tokens``,
``tokenizer.ggml.scores``, ``tokenizer.ggml.token_type``) plus a few flags. For a
SentencePiece-BPE vocabulary (``tokenizer.ggml.model == "llama"``: Llama, Gemma, ...)
there is no merge list; llama.cpp merges adjacent symbols greedily, always taking the
pair whose merged piece has the best score. This module writes the equivalent
``tokenizers`` BPE model: every way of splitting a vocabulary piece into two pieces
becomes a merge, ranked by the merged piece's score, so the BPE merge order is the
score order.

Around the model:

- control tokens (``<bos>``, ``<start_of_turn>`` ...) become special added tokens and
  user-defined tokens (``\\n``, runs of spaces, ``<table>`` ...) plain added tokens,
  both matched atomically on the raw text, as llama.cpp does;
- the normalizer turns spaces into ``▁`` (and prepends one when the vocabulary asks
  for a space prefix); the decoder undoes that and reassembles byte-fallback pieces;
- the post-processor adds ``<bos>`` / ``<eos>`` as ``tokenizer.ggml.add_*_token`` say.

transformers (4.57) builds a Unigram tokenizer for Gemma GGUF files instead, which
splits text into far too many pieces without any error; that is why this exists.

The metadata is read by a small parser of the GGUF header: ``gguf.GGUFReader`` maps
every tensor and every array element too and needs over ten seconds for a 262k-token
vocabulary, while the tokenizer needs only the key-value section.
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TypedDict

from tokenizers import Tokenizer

from engine.errors import ModelError

__all__ = [
    "GGUFVocab",
    "SpecialTokens",
    "TokenType",
    "bpe_merges",
    "build_tokenizer",
    "build_tokenizer_json",
    "read_gguf_metadata",
    "read_gguf_vocab",
    "special_tokens_map",
]

#: The only tokenizer family this module rebuilds: SentencePiece with BPE-style merges.
SUPPORTED_MODEL = "llama"

#: What the SentencePiece space is written as inside pieces.
SPACE_MARK = "▁"


class TokenType(IntEnum):
    """The values of ``tokenizer.ggml.token_type`` (llama.cpp's ``llama_token_type``)."""

    UNDEFINED = 0
    NORMAL = 1
    UNKNOWN = 2
    CONTROL = 3
    USER_DEFINED = 4
    UNUSED = 5
    BYTE = 6


@dataclass(frozen=True)
class GGUFVocab:
    """The tokenizer part of a GGUF file's metadata."""

    tokens: tuple[str, ...]
    scores: tuple[float, ...]
    token_types: tuple[int, ...]
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None
    pad_id: int | None
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool
    #: ``tokenizer.ggml.model``: "llama" for SentencePiece, "gpt2" for byte-level BPE ...
    tokenizer_model: str
    #: ``general.name``, or "" when the file does not say.
    model_name: str = ""

    def __post_init__(self) -> None:
        sizes = {len(self.tokens), len(self.scores), len(self.token_types)}
        if len(sizes) != 1:
            raise ModelError(
                f"GGUF vocabulary is inconsistent: {len(self.tokens)} tokens, "
                f"{len(self.scores)} scores, {len(self.token_types)} token types."
            )

    def token(self, token_id: int | None) -> str | None:
        """The text of `token_id`, or None when the id is unset or out of range."""
        if token_id is None or not 0 <= token_id < len(self.tokens):
            return None
        return self.tokens[token_id]


class SpecialTokens(TypedDict, total=False):
    """Special token texts and the turn-marker ids a chat template and stop list need."""

    bos_token: str
    eos_token: str
    unk_token: str
    pad_token: str
    start_of_turn_id: int
    end_of_turn_id: int


# --- reading the GGUF header -------------------------------------------------------

_MAGIC = b"GGUF"

# GGUF value types -> struct format of one scalar (strings and arrays are special).
_STRING = 8
_ARRAY = 9
_SCALAR_FORMATS: dict[int, str] = {
    0: "B",  # uint8
    1: "b",  # int8
    2: "H",  # uint16
    3: "h",  # int16
    4: "I",  # uint32
    5: "i",  # int32
    6: "f",  # float32
    7: "?",  # bool
    10: "Q",  # uint64
    11: "q",  # int64
    12: "d",  # float64
}

MetadataValue = int | float | bool | str | list["MetadataValue"]


class _HeaderParser:
    """Reads the key-value section of a GGUF file from a buffer, front to back."""

    def __init__(self, buffer: mmap.mmap, endian: str) -> None:
        self._buffer = buffer
        self._endian = endian
        self.offset = 0

    def scalar(self, fmt: str) -> int | float | bool:
        (value,) = struct.unpack_from(self._endian + fmt, self._buffer, self.offset)
        self.offset += struct.calcsize(fmt)
        result: int | float | bool = value
        return result

    def uint(self, fmt: str) -> int:
        return int(self.scalar(fmt))

    def string(self) -> str:
        length = self.uint("Q")
        start = self.offset
        end = start + length
        if end > len(self._buffer):
            raise struct.error("string runs past the end of the file")
        self.offset = end
        return self._buffer[start:end].decode("utf-8", errors="replace")

    def value(self, value_type: int) -> MetadataValue:
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            return self.array()
        fmt = _SCALAR_FORMATS.get(value_type)
        if fmt is None:
            raise ValueError(f"unknown GGUF value type {value_type}")
        return self.scalar(fmt)

    def array(self) -> list[MetadataValue]:
        item_type = self.uint("I")
        count = self.uint("Q")
        if item_type == _STRING:
            return [self.string() for _ in range(count)]
        if item_type == _ARRAY:
            return [self.array() for _ in range(count)]
        fmt = _SCALAR_FORMATS.get(item_type)
        if fmt is None:
            raise ValueError(f"unknown GGUF array item type {item_type}")
        items = struct.unpack_from(f"{self._endian}{count}{fmt}", self._buffer, self.offset)
        self.offset += count * struct.calcsize(fmt)
        return list(items)


def read_gguf_metadata(
    gguf_path: str | Path, keep: Callable[[str], bool] | None = None
) -> dict[str, MetadataValue]:
    """The key-value metadata of a GGUF file (only keys `keep` accepts, when given).

    Raises ModelError when the file is missing, is not a GGUF file or is truncated.
    """
    path = Path(gguf_path)
    try:
        with path.open("rb") as file:
            head = file.read(8)
            if len(head) < 8 or head[:4] != _MAGIC:
                raise ModelError(
                    f"{path} is not a GGUF file (it does not start with the GGUF magic)."
                )
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
                return _parse_metadata(buffer, path, keep)
    except OSError as exc:
        raise ModelError(f"Cannot read the GGUF file {path}: {exc}") from exc


def _parse_metadata(
    buffer: mmap.mmap, path: Path, keep: Callable[[str], bool] | None
) -> dict[str, MetadataValue]:
    # A big-endian file shows its (small) version number byte-swapped.
    (version,) = struct.unpack_from("<I", buffer, 4)
    endian = "<" if version & 0xFFFF else ">"
    parser = _HeaderParser(buffer, endian)
    parser.offset = 4
    version = parser.uint("I")
    if version < 2:
        raise ModelError(f"{path} is GGUF version {version}; only versions 2 and later are read.")
    metadata: dict[str, MetadataValue] = {}
    try:
        parser.uint("Q")  # tensor count: the tensors are not needed here
        kv_count = parser.uint("Q")
        for _ in range(kv_count):
            key = parser.string()
            value = parser.value(parser.uint("I"))
            if keep is None or keep(key):
                metadata[key] = value
    except (struct.error, ValueError) as exc:
        raise ModelError(f"{path} is a truncated or corrupt GGUF file: {exc}") from exc
    return metadata


def _optional_int(metadata: dict[str, MetadataValue], key: str) -> int | None:
    value = metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _flag(metadata: dict[str, MetadataValue], key: str, default: bool) -> bool:
    value = metadata.get(key)
    return value if isinstance(value, bool) else default


def _string_list(metadata: dict[str, MetadataValue], key: str) -> list[str] | None:
    value = metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ModelError(f"GGUF metadata {key} should be a list of strings.")
    return [str(item) for item in value]


def _number_list(metadata: dict[str, MetadataValue], key: str) -> list[float] | None:
    value = metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, int | float) for item in value):
        raise ModelError(f"GGUF metadata {key} should be a list of numbers.")
    return [float(item) for item in value if isinstance(item, int | float)]


def read_gguf_vocab(gguf_path: str | Path) -> GGUFVocab:
    """Read the tokenizer vocabulary and its flags from a GGUF file.

    Missing scores count as 0 and missing token types as "normal"; missing flags take
    llama.cpp's SentencePiece defaults (add <bos>, no <eos>, add a space prefix).
    """
    metadata = read_gguf_metadata(
        gguf_path, keep=lambda key: key.startswith("tokenizer.ggml.") or key == "general.name"
    )
    tokens = _string_list(metadata, "tokenizer.ggml.tokens")
    if not tokens:
        raise ModelError(f"{gguf_path} has no tokenizer vocabulary (tokenizer.ggml.tokens).")
    scores = _number_list(metadata, "tokenizer.ggml.scores") or [0.0] * len(tokens)
    types = _number_list(metadata, "tokenizer.ggml.token_type")
    token_types = [int(t) for t in types] if types else [int(TokenType.NORMAL)] * len(tokens)
    model = metadata.get("tokenizer.ggml.model", "")
    name = metadata.get("general.name", "")
    return GGUFVocab(
        tokens=tuple(tokens),
        scores=tuple(scores),
        token_types=tuple(token_types),
        bos_id=_optional_int(metadata, "tokenizer.ggml.bos_token_id"),
        eos_id=_optional_int(metadata, "tokenizer.ggml.eos_token_id"),
        unk_id=_optional_int(metadata, "tokenizer.ggml.unknown_token_id"),
        pad_id=_optional_int(metadata, "tokenizer.ggml.padding_token_id"),
        add_bos=_flag(metadata, "tokenizer.ggml.add_bos_token", True),
        add_eos=_flag(metadata, "tokenizer.ggml.add_eos_token", False),
        add_space_prefix=_flag(metadata, "tokenizer.ggml.add_space_prefix", True),
        tokenizer_model=model if isinstance(model, str) else "",
        model_name=name if isinstance(name, str) else "",
    )


# --- building the tokenizer --------------------------------------------------------


def _as_vocab(source: str | Path | GGUFVocab) -> GGUFVocab:
    return source if isinstance(source, GGUFVocab) else read_gguf_vocab(source)


def bpe_merges(
    tokens: Sequence[str], scores: Sequence[float], token_types: Sequence[int]
) -> list[tuple[str, str]]:
    """Merges that make BPE behave like SentencePiece's score-greedy merging.

    Only normal tokens take part. Each is split at every position where both halves are
    normal tokens too; the merges are ordered by the rank of the merged token (best score
    first, ties by id), then by the ranks of the left and right halves.
    """
    normal = int(TokenType.NORMAL)
    order = sorted(
        (i for i, kind in enumerate(token_types) if kind == normal),
        key=lambda i: (-scores[i], i),
    )
    rank = {tokens[i]: position for position, i in enumerate(order)}
    get = rank.get
    merges: list[tuple[str, str]] = []
    for token_id in order:
        piece = tokens[token_id]
        # (left rank, right rank, cut) for every cut whose halves are both pieces
        splits = [
            (left, right, cut)
            for cut in range(1, len(piece))
            if (left := get(piece[:cut])) is not None and (right := get(piece[cut:])) is not None
        ]
        if len(splits) > 1:
            splits.sort()
        merges.extend((piece[:cut], piece[cut:]) for _, _, cut in splits)
    return merges


def build_tokenizer_json(source: str | Path | GGUFVocab) -> str:
    """The ``tokenizer.json`` text for a SentencePiece-BPE ("llama") GGUF vocabulary.

    `source` is a GGUF file or a vocabulary already read with `read_gguf_vocab`.
    Raises ModelError for another tokenizer family or a file that is not GGUF.
    """
    vocab = _as_vocab(source)
    if vocab.tokenizer_model != SUPPORTED_MODEL:
        found = vocab.tokenizer_model or "not set"
        raise ModelError(
            f"The GGUF tokenizer model is {found!r}; only SentencePiece-style "
            f"({SUPPORTED_MODEL!r}) vocabularies such as Llama's and Gemma's can be rebuilt."
        )
    ids = {token: token_id for token_id, token in enumerate(vocab.tokens)}
    if len(ids) != len(vocab.tokens):
        raise ModelError("The GGUF vocabulary lists the same token more than once.")
    document = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": _added_tokens(vocab),
        "normalizer": _normalizer(vocab.add_space_prefix),
        "pre_tokenizer": None,
        "post_processor": _post_processor(vocab),
        "decoder": _decoder(vocab.add_space_prefix),
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": vocab.token(vocab.unk_id),
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": int(TokenType.BYTE) in vocab.token_types,
            "ignore_merges": False,
            "vocab": ids,
            "merges": bpe_merges(vocab.tokens, vocab.scores, vocab.token_types),
        },
    }
    return json.dumps(document, ensure_ascii=False)


def build_tokenizer(source: str | Path | GGUFVocab) -> Tokenizer:
    """`build_tokenizer_json`, loaded as a ``tokenizers.Tokenizer``."""
    return Tokenizer.from_str(build_tokenizer_json(source))


def _added_tokens(vocab: GGUFVocab) -> list[dict[str, object]]:
    # Like llama.cpp: control (and unknown) tokens are special, user-defined ones are
    # ordinary text; all are cut out of the raw text before it is normalized.
    special_kinds = {int(TokenType.CONTROL), int(TokenType.UNKNOWN)}
    atomic_kinds = special_kinds | {int(TokenType.USER_DEFINED)}
    return [
        {
            "id": token_id,
            "content": vocab.tokens[token_id],
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": kind in special_kinds,
        }
        for token_id, kind in enumerate(vocab.token_types)
        if kind in atomic_kinds
    ]


def _replace(old: str, new: str) -> dict[str, object]:
    return {"type": "Replace", "pattern": {"String": old}, "content": new}


def _normalizer(add_space_prefix: bool) -> dict[str, object]:
    replace = _replace(" ", SPACE_MARK)
    if not add_space_prefix:
        return replace
    # Prepend acts on each stretch of text between added tokens: llama.cpp likewise
    # adds the space at the start and after every special or user-defined token.
    return {
        "type": "Sequence",
        "normalizers": [{"type": "Prepend", "prepend": SPACE_MARK}, replace],
    }


def _decoder(add_space_prefix: bool) -> dict[str, object]:
    steps: list[dict[str, object]] = [
        _replace(SPACE_MARK, " "),
        {"type": "ByteFallback"},
        {"type": "Fuse"},
    ]
    if add_space_prefix:
        steps.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    return {"type": "Sequence", "decoders": steps}


def _post_processor(vocab: GGUFVocab) -> dict[str, object] | None:
    """Adds <bos> / <eos> around each sequence, as the GGUF's add_*_token flags say."""
    ends = [
        (vocab.bos_id, vocab.add_bos, "prefix"),
        (vocab.eos_id, vocab.add_eos, "suffix"),
    ]
    prefix: list[str] = []
    suffix: list[str] = []
    special_tokens: dict[str, object] = {}
    for token_id, wanted, where in ends:
        text = vocab.token(token_id)
        if not wanted or text is None or token_id is None:
            continue
        (prefix if where == "prefix" else suffix).append(text)
        special_tokens[text] = {"id": text, "ids": [token_id], "tokens": [text]}
    if not special_tokens:
        return None

    def template(sequence: str, type_id: int) -> list[dict[str, object]]:
        def special(text: str) -> dict[str, object]:
            return {"SpecialToken": {"id": text, "type_id": type_id}}

        return [
            *(special(text) for text in prefix),
            {"Sequence": {"id": sequence, "type_id": type_id}},
            *(special(text) for text in suffix),
        ]

    return {
        "type": "TemplateProcessing",
        "single": template("A", 0),
        "pair": template("A", 0) + template("B", 1),
        "special_tokens": special_tokens,
    }


def special_tokens_map(source: str | Path | GGUFVocab) -> SpecialTokens:
    """The bos/eos/unk/pad token texts, and the ids of the Gemma turn markers if present."""
    vocab = _as_vocab(source)
    result: SpecialTokens = {}
    if (bos := vocab.token(vocab.bos_id)) is not None:
        result["bos_token"] = bos
    if (eos := vocab.token(vocab.eos_id)) is not None:
        result["eos_token"] = eos
    if (unk := vocab.token(vocab.unk_id)) is not None:
        result["unk_token"] = unk
    if (pad := vocab.token(vocab.pad_id)) is not None:
        result["pad_token"] = pad
    if "<start_of_turn>" in vocab.tokens:
        result["start_of_turn_id"] = vocab.tokens.index("<start_of_turn>")
    if "<end_of_turn>" in vocab.tokens:
        result["end_of_turn_id"] = vocab.tokens.index("<end_of_turn>")
    return result
