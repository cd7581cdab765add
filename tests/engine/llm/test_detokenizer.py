"""IncrementalDetokenizer on real tokenizers trained here: SentencePiece-style and byte-level."""

from __future__ import annotations

import json
import random

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from engine.llm.detokenizer import MAX_HELD_TOKENS, IncrementalDetokenizer

# ASCII only: '€', emoji and CJK are not in the vocabulary and fall back to bytes.
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world, this is a test of the streaming detokenizer",
    "one token at a time, the text arrives in small pieces",
    "numbers 0123456789 and punctuation !?.,;:'\"()[]{}<>-_=+*/",
    "    indented code\n\tand tabs\nand newlines\r\n",
] * 10

SAMPLES = [
    "hello world",
    "  leading and trailing spaces  ",
    "a  b   c    d",
    "line one\nline two\n\nline four\n",
    "price: 5€, or 10 €€ total",
    "€",
    "emoji 😀 and 👍🏽 and family 👨‍👩‍👧",
    "日本語のテキスト",
    "mixed: héllo wörld, 世界 😀 €9.99\n\ttab",
    "Ελληνικά и русский",
    "🎉🎉🎉",
    "e\u0301 combining accent",
    "",
]


def _with_byte_tokens(tokenizer: Tokenizer) -> Tokenizer:
    """Add <0x00>..<0xFF> to the vocabulary as ordinary tokens, as SentencePiece does."""
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    return Tokenizer.from_str(json.dumps(data))


def gemma_style() -> Tokenizer:
    """SentencePiece BPE with byte fallback; spaces kept as they are when decoding."""
    tok = Tokenizer(models.BPE(byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"], show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return _with_byte_tokens(tok)


def llama_style() -> Tokenizer:
    """Like gemma_style, but a '▁' is prepended and the first space stripped on decode.

    Decoding a suffix on its own then loses its leading space, so deltas must come from
    a window with context.
    """
    tok = Tokenizer(models.BPE(byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"], show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return _with_byte_tokens(tok)


def byte_level() -> Tokenizer:
    """GPT-2 style byte-level BPE."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    return tok


BUILDERS = {"gemma": gemma_style, "llama": llama_style, "byte_level": byte_level}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def tokenizer(request: pytest.FixtureRequest) -> Tokenizer:
    return BUILDERS[request.param]()


def _stream(tokenizer: Tokenizer, ids: list[int], **kwargs: bool) -> tuple[list[str], str]:
    detok = IncrementalDetokenizer(tokenizer, **kwargs)
    deltas = [detok.add(i) for i in ids]
    tail = detok.flush()
    assert detok.text == "".join(deltas) + tail
    assert detok.token_count == len(ids)
    return deltas, tail


def _random_strings(count: int) -> list[str]:
    rng = random.Random(1234)
    alphabet = list("abcxyz ABC019.,!\n\t  ") + list("€é世界語😀👍🎉ñü")
    return ["".join(rng.choices(alphabet, k=rng.randint(1, 40))) for _ in range(count)]


def test_byte_fallback_is_really_exercised(tokenizer: Tokenizer) -> None:
    for text in ["€", "😀", "世"]:
        data = text.encode()
        assert tokenizer.encode(text).ids[-len(data) :] == _byte_ids(tokenizer, data), text


TEXTS = SAMPLES + _random_strings(60)


@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_deltas_join_to_the_full_decode(tokenizer: Tokenizer, text: str) -> None:
    ids = tokenizer.encode(text).ids
    deltas, tail = _stream(tokenizer, ids)
    assert "".join(deltas) + tail == tokenizer.decode(ids)
    assert not any("\ufffd" in d for d in deltas)
    assert tail == ""  # valid text: nothing is left waiting at the end


def test_euro_appears_once_after_its_last_byte(tokenizer: Tokenizer) -> None:
    ids = tokenizer.encode("cost 5€ now").ids
    # The token that completes '€' is the first whose prefix decodes to it.
    last = next(k for k in range(len(ids)) if "€" in tokenizer.decode(ids[: k + 1]))
    assert ids[last - 2 : last + 1] == _byte_ids(tokenizer, "€".encode())  # it was split
    deltas, _ = _stream(tokenizer, ids)
    assert [i for i, d in enumerate(deltas) if "€" in d] == [last]
    assert deltas[last].count("€") == 1
    assert deltas[last - 1] == "" and deltas[last - 2] == ""


def test_cost_per_token_stays_bounded(tokenizer: Tokenizer) -> None:
    detok = IncrementalDetokenizer(tokenizer)
    ids = tokenizer.encode("the quick brown fox 😀 € 世界 " * 100).ids
    longest = 0
    for i in ids:
        detok.add(i)
        longest = max(longest, len(detok._window))
    assert longest <= 8
    assert detok.flush() == ""


def test_special_tokens_are_skipped_unless_asked(tokenizer: Tokenizer) -> None:
    eos = tokenizer.token_to_id("<eos>")
    ids = [*tokenizer.encode("done €").ids, eos]
    deltas, _ = _stream(tokenizer, ids)
    assert "".join(deltas) == tokenizer.decode(ids)
    assert "<eos>" not in "".join(deltas)
    deltas, tail = _stream(tokenizer, ids, skip_special_tokens=False)
    assert "".join(deltas) + tail == tokenizer.decode(ids, skip_special_tokens=False)
    assert deltas[-1].endswith("<eos>")


def _byte_ids(tokenizer: Tokenizer, data: bytes) -> list[int]:
    """Ids of the single-byte tokens for `data` (SentencePiece <0xNN> or GPT-2 characters)."""
    byte_fallback = tokenizer.token_to_id("<0x80>") is not None
    names = [f"<0x{b:02X}>" if byte_fallback else _gpt2_char(b) for b in data]
    ids = [tokenizer.token_to_id(n) for n in names]
    assert all(i is not None for i in ids)
    return [i for i in ids if i is not None]


def _gpt2_char(byte: int) -> str:
    """The printable character GPT-2's byte-level alphabet uses for one byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    if byte in printable:
        return chr(byte)
    return chr(256 + sorted(set(range(256)) - set(printable)).index(byte))


def test_unfinished_character_is_flushed_as_replacement(tokenizer: Tokenizer) -> None:
    ids = [*tokenizer.encode("abc").ids, *_byte_ids(tokenizer, "€".encode()[:2])]
    deltas, tail = _stream(tokenizer, ids)
    assert not any("\ufffd" in d for d in deltas)
    assert tail and set(tail) == {"\ufffd"}
    assert "".join(deltas) + tail == tokenizer.decode(ids)


def test_invalid_bytes_do_not_grow_the_window(tokenizer: Tokenizer) -> None:
    detok = IncrementalDetokenizer(tokenizer)
    stray = _byte_ids(tokenizer, b"\x80")[0]
    out = [detok.add(stray) for _ in range(5 * MAX_HELD_TOKENS)]
    assert len(detok._window) <= MAX_HELD_TOKENS
    assert set("".join(out) + detok.flush()) == {"\ufffd"}
