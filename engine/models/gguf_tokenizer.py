"""Rebuild a Hugging Face ``tokenizer.json`` from the vocabulary stored in a GGUF file.

A GGUF file carries its tokenizer as plain arrays (``tokenizer.ggml.tokens``,
``tokenizer.ggml.scores``, ``tokenizer.ggml.token_type``, ``tokenizer.ggml.merges``)
plus a few flags. Two kinds are rebuilt: SentencePiece-BPE ("llama") and byte-level BPE
("gpt2", below). For a SentencePiece-BPE vocabulary (``tokenizer.ggml.model == "llama"``:
Llama 2, Mistral, Gemma ...) there is no merge list; llama.cpp merges adjacent symbols
greedily, always taking the pair whose merged piece has the best score. This module
writes the equivalent ``tokenizers`` BPE model: every way of splitting a vocabulary
piece into two pieces becomes a merge, ranked by the merged piece's score, so the BPE
merge order is the score order.

Around the model:

- control tokens (``<bos>``, ``<start_of_turn>`` ...) become special added tokens and
  user-defined tokens (``\\n``, runs of spaces, ``<table>`` ...) plain added tokens,
  both matched atomically on the raw text, as llama.cpp does;
- the normalizer turns spaces into ``▁`` (and prepends one when the vocabulary asks
  for a space prefix); the decoder undoes that and reassembles byte-fallback pieces;
- the post-processor adds ``<bos>`` / ``<eos>`` as ``tokenizer.ggml.add_*_token`` say.

transformers (4.57) builds a Unigram tokenizer for Gemma GGUF files instead, which
splits text into far too many pieces without any error; that is why this exists.

A byte-level BPE vocabulary (``tokenizer.ggml.model == "gpt2"``: Llama 3, Qwen 2/2.5/3,
SmolLM, Phi-4 ...) stores its merge list, so the BPE model is the file's vocabulary and
merges as they are. Text is split into words by the regular expressions of the family
``tokenizer.ggml.pre`` names (engine.models.gguf_pretokenizers), then mapped to the
byte-level alphabet (every byte one printable character) before merging; the decoder maps
the characters back to bytes. Control tokens are special added tokens, user-defined ones
(stored as raw text by llama.cpp's converter) plain added tokens, as above.

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
from engine.models.gguf_pretokenizers import PRE_TOKENIZERS, pre_tokenizer

__all__ = [
    "GGUFVocab",
    "SpecialTokens",
    "TokenType",
    "bpe_merges",
    "build_tokenizer",
    "build_tokenizer_json",
    "check_gguf_file",
    "check_gguf_tokenizer",
    "read_gguf_metadata",
    "read_gguf_vocab",
    "special_tokens_map",
]

#: ``tokenizer.ggml.model`` of SentencePiece vocabularies with BPE-style merges.
SENTENCEPIECE = "llama"
#: ``tokenizer.ggml.model`` of byte-level BPE vocabularies (GPT-2 style, with merges).
BYTE_LEVEL = "gpt2"
#: The ``tokenizer.ggml.model`` values this module rebuilds.
SUPPORTED_MODELS = (SENTENCEPIECE, BYTE_LEVEL)

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
    #: Byte-level BPE only: the merges ("left right", best first) and the pre-tokenizer.
    merges: tuple[str, ...] = ()
    pre: str = ""
    #: ``tokenizer.ggml.eot_token_id``: the end-of-turn token, when the file names one.
    eot_id: int | None = None

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


#: Bounds a corrupt or hostile header meets before anything is allocated for it. Real
#: files nest arrays at most one deep and hold well under a million metadata items
#: (Gemma 3: a 262,144-token vocabulary, three arrays of it).
MAX_ARRAY_DEPTH = 8
MAX_METADATA_ITEMS = 16_000_000
#: ggml tensors have at most four dimensions (GGML_MAX_DIMS).
MAX_TENSOR_DIMS = 4
#: Fewest bytes one item takes in the file: a string is at least its 8-byte length, an
#: array its 4-byte item type and 8-byte count.
_MIN_STRING = 8
_MIN_ARRAY = 12


class _HeaderParser:
    """Reads the header of a GGUF file from a buffer, front to back.

    Every length and count it reads is checked against the bytes left in the file before
    anything is allocated for it, so a corrupt header is a `ValueError` (or
    `struct.error`) saying what is wrong, never a huge allocation or a deep recursion.
    """

    def __init__(self, buffer: mmap.mmap, endian: str) -> None:
        self._buffer = buffer
        self._endian = endian
        self.offset = 0
        self.items = 0  # metadata items read so far (array elements count one each)

    @property
    def remaining(self) -> int:
        return len(self._buffer) - self.offset

    def scalar(self, fmt: str) -> int | float | bool:
        (value,) = struct.unpack_from(self._endian + fmt, self._buffer, self.offset)
        self.offset += struct.calcsize(fmt)
        result: int | float | bool = value
        return result

    def uint(self, fmt: str) -> int:
        return int(self.scalar(fmt))

    def count(self, count: int, item_bytes: int, what: str, unit: str = "items") -> int:
        """`count`, checked: `count` items of at least `item_bytes` fit in what is left."""
        if count * item_bytes > self.remaining:
            raise ValueError(
                f"{what} declares {count:,} {unit} at offset {self.offset:,}, but only "
                f"{self.remaining:,} bytes are left in the file"
            )
        return count

    def string(self) -> str:
        length = self.count(self.uint("Q"), 1, "a string", "bytes")
        start = self.offset
        self.offset = start + length
        return self._buffer[start : self.offset].decode("utf-8", errors="replace")

    def value(self, value_type: int, depth: int = 0) -> MetadataValue:
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            return self.array(depth + 1)
        fmt = _SCALAR_FORMATS.get(value_type)
        if fmt is None:
            raise ValueError(f"unknown GGUF value type {value_type} at offset {self.offset:,}")
        return self.scalar(fmt)

    def array(self, depth: int = 1) -> list[MetadataValue]:
        if depth > MAX_ARRAY_DEPTH:
            raise ValueError(
                f"arrays nested more than {MAX_ARRAY_DEPTH} deep at offset {self.offset:,}"
            )
        item_type = self.uint("I")
        fmt = _SCALAR_FORMATS.get(item_type)
        if fmt is None and item_type not in (_STRING, _ARRAY):
            raise ValueError(f"unknown GGUF array item type {item_type} at offset {self.offset:,}")
        least = {_STRING: _MIN_STRING, _ARRAY: _MIN_ARRAY}.get(item_type) or struct.calcsize(
            fmt or "B"
        )
        count = self.count(self.uint("Q"), least, "an array")
        self.items += count
        if self.items > MAX_METADATA_ITEMS:
            raise ValueError(
                f"the metadata holds more than {MAX_METADATA_ITEMS:,} items; "
                "no model needs that many"
            )
        if item_type == _STRING:
            return [self.string() for _ in range(count)]
        if item_type == _ARRAY:
            return [self.array(depth + 1) for _ in range(count)]
        items = struct.unpack_from(f"{self._endian}{count}{fmt}", self._buffer, self.offset)
        self.offset += count * least
        return list(items)

    def metadata(self, keep: Callable[[str], bool] | None) -> dict[str, MetadataValue]:
        """The key-value section (after the magic and version): only keys `keep` accepts."""
        self.uint("Q")  # tensor count: `tensors` reads it again
        kv_count = self.count(self.uint("Q"), _MIN_STRING + 4, "the key-value section", "keys")
        metadata: dict[str, MetadataValue] = {}
        for _ in range(kv_count):
            key = self.string()
            value = self.value(self.uint("I"))
            if keep is None or keep(key):
                metadata[key] = value
        return metadata


def _open_header(path: Path) -> tuple[mmap.mmap, str]:
    """The mapped file and its byte order; ModelError when it is not GGUF (version 2+)."""
    with path.open("rb") as file:
        head = file.read(8)
        if len(head) < 8 or head[:4] != _MAGIC:
            raise ModelError(f"{path} is not a GGUF file (it does not start with the GGUF magic).")
        buffer = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    # A big-endian file shows its (small) version number byte-swapped.
    (version,) = struct.unpack_from("<I", buffer, 4)
    endian = "<" if version & 0xFFFF else ">"
    (version,) = struct.unpack_from(endian + "I", buffer, 4)
    if version < 2:
        buffer.close()
        raise ModelError(f"{path} is GGUF version {version}; only versions 2 and later are read.")
    return buffer, endian


def _corrupt(path: Path, exc: Exception) -> ModelError:
    return ModelError(
        f"{path} is a truncated or corrupt GGUF file: {exc}. Download or copy it again."
    )


def read_gguf_metadata(
    gguf_path: str | Path, keep: Callable[[str], bool] | None = None
) -> dict[str, MetadataValue]:
    """The key-value metadata of a GGUF file (only keys `keep` accepts, when given).

    Raises ModelError when the file is missing, is not a GGUF file or is truncated.
    """
    path = Path(gguf_path)
    try:
        buffer, endian = _open_header(path)
        with buffer:
            parser = _HeaderParser(buffer, endian)
            parser.offset = 8
            return parser.metadata(keep)
    except (struct.error, ValueError) as exc:
        raise _corrupt(path, exc) from exc
    except OSError as exc:
        raise ModelError(f"Cannot read the GGUF file {path}: {exc}") from exc


def check_gguf_file(gguf_path: str | Path) -> None:
    """Read a GGUF file's whole header, metadata and tensor list, and check that every
    tensor's data lies inside the file; ModelError naming the file and what is wrong.

    Run before the file reaches `gguf.GGUFReader` (transformers' loader), which on a
    corrupt header loops for minutes on a declared count of 2**61, recurses until Python
    gives up on nested arrays, or fails with numpy's IndexError.
    """
    path = Path(gguf_path)
    try:
        buffer, endian = _open_header(path)
        with buffer:
            parser = _HeaderParser(buffer, endian)
            parser.offset = 8
            tensor_count = parser.uint("Q")
            parser.offset = 8
            alignment = parser.metadata(lambda key: key == "general.alignment").get(
                "general.alignment", 32
            )
            if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
                raise ValueError(f"general.alignment is {alignment!r}, not a power of two")
            _check_tensors(parser, tensor_count, alignment, len(buffer))
    except (struct.error, ValueError) as exc:
        raise _corrupt(path, exc) from exc
    except OSError as exc:
        raise ModelError(f"Cannot read the GGUF file {path}: {exc}") from exc


def _tensor_bytes(name: str, shape: list[int], kind: int) -> int:
    """The bytes of a tensor's data, from its ggml type's block size (the gguf package's
    table); 0 without the export extra, when only the offsets can be checked."""
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError:
        return 0
    try:
        block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
    except (ValueError, KeyError):
        raise ValueError(f"tensor {name!r} has the unknown ggml type {kind}") from None
    elements = 1
    for dim in shape:
        elements *= dim
    return elements // block * block_bytes


def _check_tensors(parser: _HeaderParser, count: int, alignment: int, size: int) -> None:
    """The tensor list: at most four dimensions each, data inside the file."""
    parser.count(count, _MIN_STRING + 4 + 4 + 8, "the tensor list", "tensors")
    tensors: list[tuple[str, list[int], int, int]] = []
    for _ in range(count):
        name = parser.string()
        dims = parser.uint("I")
        if not 0 < dims <= MAX_TENSOR_DIMS:
            raise ValueError(f"tensor {name!r} has {dims:,} dimensions (ggml allows 1 to 4)")
        shape = [parser.uint("Q") for _ in range(dims)]
        tensors.append((name, shape, parser.uint("I"), parser.uint("Q")))
    data_start = -(-parser.offset // alignment) * alignment
    for name, shape, kind, offset in tensors:
        start = data_start + offset
        needed = _tensor_bytes(name, shape, kind)
        if start + needed > size:
            raise ValueError(
                f"tensor {name!r} needs {needed:,} bytes at offset {start:,}, but the file "
                f"ends at {size:,}"
            )


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
    llama.cpp's defaults: for SentencePiece add <bos>, no <eos>, add a space prefix; for
    byte-level BPE no space prefix, no <eos>, and <bos> as the pre-tokenizer family says.
    """
    metadata = read_gguf_metadata(
        gguf_path, keep=lambda key: key.startswith("tokenizer.ggml.") or key == "general.name"
    )
    model = metadata.get("tokenizer.ggml.model", "")
    model = model if isinstance(model, str) else ""
    pre = metadata.get("tokenizer.ggml.pre", "")
    pre = pre if isinstance(pre, str) else ""
    tokens = _string_list(metadata, "tokenizer.ggml.tokens")
    if not tokens:
        raise ModelError(f"{gguf_path} has no tokenizer vocabulary (tokenizer.ggml.tokens).")
    scores = _number_list(metadata, "tokenizer.ggml.scores") or [0.0] * len(tokens)
    types = _number_list(metadata, "tokenizer.ggml.token_type")
    token_types = [int(t) for t in types] if types else [int(TokenType.NORMAL)] * len(tokens)
    name = metadata.get("general.name", "")
    byte_level = model == BYTE_LEVEL
    family = PRE_TOKENIZERS.get(pre)
    default_bos = family.add_bos if byte_level and family is not None else not byte_level
    return GGUFVocab(
        tokens=tuple(tokens),
        scores=tuple(scores),
        token_types=tuple(token_types),
        bos_id=_optional_int(metadata, "tokenizer.ggml.bos_token_id"),
        eos_id=_optional_int(metadata, "tokenizer.ggml.eos_token_id"),
        unk_id=_optional_int(metadata, "tokenizer.ggml.unknown_token_id"),
        pad_id=_optional_int(metadata, "tokenizer.ggml.padding_token_id"),
        add_bos=_flag(metadata, "tokenizer.ggml.add_bos_token", default_bos),
        add_eos=_flag(metadata, "tokenizer.ggml.add_eos_token", False),
        add_space_prefix=_flag(metadata, "tokenizer.ggml.add_space_prefix", not byte_level),
        tokenizer_model=model,
        model_name=name if isinstance(name, str) else "",
        merges=tuple(_string_list(metadata, "tokenizer.ggml.merges") or ()),
        pre=pre,
        eot_id=_optional_int(metadata, "tokenizer.ggml.eot_token_id"),
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


def _check_kind(tokenizer_model: str, pre: str, model_name: str) -> None:
    """ModelError unless the tokenizer kind (and a byte-level one's pre-tokenizer) is one
    this module rebuilds; the message names the value and the supported ones."""
    if tokenizer_model not in SUPPORTED_MODELS:
        found = tokenizer_model or "not set"
        which = f" of {model_name}" if model_name else ""
        raise ModelError(
            f"The GGUF tokenizer model{which} (tokenizer.ggml.model) is {found!r}; only "
            f"SentencePiece-style ({SENTENCEPIECE!r}: Llama 2, Mistral, Gemma) and byte-level "
            f"BPE ({BYTE_LEVEL!r}: Llama 3, Qwen 2/3, SmolLM, Phi-4) vocabularies can be "
            "rebuilt. Prepare the model from its Hugging Face folder instead."
        )
    if tokenizer_model == BYTE_LEVEL:
        pre_tokenizer(pre, model_name)


def check_gguf_tokenizer(gguf_path: str | Path) -> None:
    """Refuse a GGUF file whose tokenizer cannot be rebuilt, before anything slow runs
    (reads three metadata keys, not the vocabulary)."""
    wanted = {"tokenizer.ggml.model", "tokenizer.ggml.pre", "general.name"}
    metadata = read_gguf_metadata(gguf_path, keep=wanted.__contains__)
    values = [metadata.get(key, "") for key in sorted(wanted)]
    name, model, pre = (value if isinstance(value, str) else "" for value in values)
    _check_kind(model, pre, name)


def build_tokenizer_json(source: str | Path | GGUFVocab) -> str:
    """The ``tokenizer.json`` text for a GGUF vocabulary: SentencePiece-BPE ("llama") or
    byte-level BPE ("gpt2").

    `source` is a GGUF file or a vocabulary already read with `read_gguf_vocab`.
    Raises ModelError for another tokenizer kind, an unknown pre-tokenizer or a file
    that is not GGUF.
    """
    vocab = _as_vocab(source)
    _check_kind(vocab.tokenizer_model, vocab.pre, vocab.model_name)
    ids = {token: token_id for token_id, token in enumerate(vocab.tokens)}
    if len(ids) != len(vocab.tokens):
        raise ModelError("The GGUF vocabulary lists the same token more than once.")
    if vocab.tokenizer_model == BYTE_LEVEL:
        document = _byte_level_document(vocab, ids)
    else:
        document = _sentencepiece_document(vocab, ids)
    return json.dumps(document, ensure_ascii=False)


def _sentencepiece_document(vocab: GGUFVocab, ids: dict[str, int]) -> dict[str, object]:
    return {
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


def _byte_level_document(vocab: GGUFVocab, ids: dict[str, int]) -> dict[str, object]:
    family = pre_tokenizer(vocab.pre, vocab.model_name)
    if not vocab.merges:
        raise ModelError(
            "The byte-level BPE vocabulary has no merges (tokenizer.ggml.merges); the GGUF "
            "file is incomplete. Convert the model again with a current llama.cpp."
        )
    merges = []
    for merge in vocab.merges:
        left, space, right = merge.partition(" ")
        if not space or not left or not right:
            raise ModelError(
                f"The GGUF merge {merge!r} is not two pieces separated by a space; the file "
                "is corrupt."
            )
        merges.append((left, right))
    splits: list[dict[str, object]] = [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}
        for pattern in family.patterns
    ]
    byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": _added_tokens(vocab),
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [*splits, {"type": "ByteLevel", **byte_level}],
        },
        "post_processor": _post_processor(vocab),
        "decoder": {"type": "ByteLevel", **byte_level},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": family.ignore_merges,
            "vocab": ids,
            "merges": merges,
        },
    }


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
    elif vocab.token(vocab.eot_id) is not None and vocab.eot_id is not None:
        result["end_of_turn_id"] = vocab.eot_id
    return result
