"""Byte-level BPE vocabularies rebuilt from GGUF files, one family of pre-tokenizers each.

Each test trains a small byte-level BPE tokenizer with the `tokenizers` library (the
pre-tokenizer that family's Hugging Face tokenizer.json has), writes its vocabulary into
a GGUF file the way llama.cpp's converter does, rebuilds a tokenizer from the file and
checks it gives the same ids, and the same text back, as the tokenizer it came from. When
llama-cpp-python (the `peers` extra) is installed, llama.cpp's own tokenizer is compared
as well.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer

from engine.errors import ModelError
from engine.models.gguf_pretokenizers import PRE_TOKENIZERS, pre_tokenizer
from engine.models.gguf_tokenizer import (
    build_tokenizer,
    build_tokenizer_json,
    read_gguf_vocab,
    special_tokens_map,
)
from tests.helpers.tiny_gguf import (
    BOS,
    EOS,
    EOT,
    MULTILINGUAL,
    tiny_llama_gguf,
    train_byte_level,
    with_bos,
    write_gguf,
)

pytest.importorskip("gguf")

FAMILIES = ["gpt-2", "llama-bpe", "qwen2", "smollm", "gpt-4o"]

#: Cases around the pre-tokenizers' edges: contractions in both cases, digit runs, runs
#: of spaces before words and at the end, tabs, CR LF, added tokens inside words.
EDGES = [
    "",
    " ",
    "   ",
    "  x",
    "x  ",
    "\n\n",
    "x  \n  y",
    "\t\tindented",
    "it's IT'S they'RE we'Ve",
    "12345678 1234567",
    "a\u0301b e\u0301",
    "<think>why?</think> done<|eot_id|>",
    f"{BOS}hello{EOS}",
    "snake_case and camelCase and ALLCAPS and Mixed123Words",
    "über-großes 北京2024年 😀😀",
]

TEXTS = [MULTILINGUAL, *MULTILINGUAL.splitlines(keepends=True), *EDGES]


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(pre, the trained HF tokenizer, the GGUF file of its vocabulary)."""
    pre = str(request.param)
    hf = train_byte_level(pre)
    path = tmp_path_factory.mktemp(pre) / "vocab.gguf"
    write_gguf(path, hf, pre, add_bos=False)
    return pre, hf, path


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_encodes_like_the_tokenizer_it_came_from(family: Any, text: str) -> None:
    _, hf, path = family
    ours = build_tokenizer(path)
    expected = hf.encode(text).ids
    assert ours.encode(text).ids == expected
    assert ours.decode(expected, skip_special_tokens=False) == text


def test_reads_the_byte_level_vocabulary(family: Any) -> None:
    pre, hf, path = family
    vocab = read_gguf_vocab(path)
    assert (vocab.tokenizer_model, vocab.pre) == ("gpt2", pre)
    assert len(vocab.tokens) == hf.get_vocab_size(with_added_tokens=True)
    assert len(vocab.merges) == len(json.loads(hf.to_str())["model"]["merges"]) > 400
    assert (vocab.add_bos, vocab.add_eos, vocab.add_space_prefix) == (False, False, False)
    assert special_tokens_map(vocab)["bos_token"] == BOS


def test_the_sample_needs_many_merges(family: Any) -> None:
    """The sample is tokenized by merges, not byte by byte: the test has teeth."""
    _, hf, _ = family
    ids = hf.encode(MULTILINGUAL).ids
    assert len(ids) < len(MULTILINGUAL.encode("utf-8")) / 2


def test_each_family_splits_differently(tmp_path: Path) -> None:
    """The same GGUF vocabulary read with another family's expressions gives other ids,
    so the tests above check the choice of expression, not only the merges."""
    hf = train_byte_level("gpt-2")
    path = write_gguf(tmp_path / "gpt2.gguf", hf, "gpt-2", add_bos=False)
    vocab = read_gguf_vocab(path)
    expected = hf.encode(MULTILINGUAL).ids
    for other in ("llama-bpe", "qwen2", "smollm", "gpt-4o"):
        ids = build_tokenizer(replace(vocab, pre=other)).encode(MULTILINGUAL).ids
        assert ids != expected, other


def test_control_and_user_defined_tokens(tmp_path: Path) -> None:
    hf = train_byte_level("qwen2")
    tokenizer = build_tokenizer(write_gguf(tmp_path / "q.gguf", hf, "qwen2", add_bos=False))
    ids = tokenizer.encode("<|im_start|>user\n<think>hm</think><|im_end|>").ids
    assert ids[0] == hf.token_to_id("<|im_start|>")
    assert hf.token_to_id("<think>") in ids and hf.token_to_id("<|im_end|>") == ids[-1]
    # Control tokens are special (dropped when decoding for the user); user-defined are text.
    assert tokenizer.decode(ids) == "user\n<think>hm</think>"
    added = {t["content"]: t["special"] for t in json.loads(tokenizer.to_str())["added_tokens"]}
    assert added[EOT] is True and added["<think>"] is False


@pytest.mark.parametrize(
    ("pre", "flag", "adds_bos"),
    [("llama-bpe", None, True), ("qwen2", None, False), ("qwen2", True, True)],
    ids=["llama3-default", "qwen2-default", "qwen2-flag"],
)
def test_bos_follows_the_flag_or_the_family(
    tmp_path: Path, pre: str, flag: bool | None, adds_bos: bool
) -> None:
    hf = train_byte_level(pre)
    path = write_gguf(tmp_path / "v.gguf", hf, pre, add_bos=flag)
    assert read_gguf_vocab(path).add_bos is adds_bos
    ids = build_tokenizer(path).encode("Größe 42").ids
    reference = with_bos(hf) if adds_bos else hf
    assert ids == reference.encode("Größe 42").ids
    assert (ids[0] == hf.token_to_id(BOS)) is adds_bos


# --- errors ------------------------------------------------------------------------


def test_unknown_pre_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    hf = train_byte_level("gpt-2", vocab_size=300)
    path = write_gguf(tmp_path / "v.gguf", hf, "martian-bpe", add_bos=False)
    with pytest.raises(ModelError) as caught:
        build_tokenizer_json(path)
    message = str(caught.value)
    assert "'martian-bpe'" in message and "tokenizer.ggml.pre" in message
    assert all(name in message for name in ("llama-bpe", "qwen2", "smollm", "gpt-2"))
    with pytest.raises(ModelError, match="missing"):
        build_tokenizer_json(replace(read_gguf_vocab(path), pre=""))


def test_missing_or_broken_merges_are_clear_errors(tmp_path: Path) -> None:
    hf = train_byte_level("gpt-2", vocab_size=300)
    vocab = read_gguf_vocab(write_gguf(tmp_path / "v.gguf", hf, "gpt-2", add_bos=False))
    with pytest.raises(ModelError, match="no merges"):
        build_tokenizer_json(replace(vocab, merges=()))
    with pytest.raises(ModelError, match="'Ġthe'"):
        build_tokenizer_json(replace(vocab, merges=("Ġthe",)))


def test_unknown_tokenizer_model_names_the_value_and_the_supported_ones(tmp_path: Path) -> None:
    hf = train_byte_level("gpt-2", vocab_size=300)
    vocab = read_gguf_vocab(write_gguf(tmp_path / "v.gguf", hf, "gpt-2", add_bos=False))
    with pytest.raises(ModelError) as caught:
        build_tokenizer_json(replace(vocab, tokenizer_model="bert"))
    assert all(part in str(caught.value) for part in ("'bert'", "'llama'", "'gpt2'"))


def test_model_prepare_refuses_an_unknown_pre_tokenizer_at_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before transformers loads the weights (the export would run first)."""
    from engine.models.prepare import prepare

    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(tmp_path / "home"))
    hf = train_byte_level("gpt-2", vocab_size=300)
    path = write_gguf(tmp_path / "odd.gguf", hf, "martian-bpe", add_bos=False)
    with pytest.raises(ModelError, match="'martian-bpe'"):
        prepare(str(path))
    assert not (tmp_path / "home" / "models" / ".work").exists()


def test_every_pre_tokenizer_compiles() -> None:
    """Every expression of the table is one the tokenizers library accepts."""
    for name in PRE_TOKENIZERS:
        for pattern in pre_tokenizer(name).patterns:
            document = {
                "version": "1.0",
                "pre_tokenizer": {
                    "type": "Split",
                    "pattern": {"Regex": pattern},
                    "behavior": "Isolated",
                    "invert": False,
                },
                "model": {"type": "BPE", "vocab": {}, "merges": []},
            }
            Tokenizer.from_str(json.dumps(document))


# --- through model prepare -------------------------------------------------------------


@pytest.mark.export
def test_prepared_gguf_tokenizes_like_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny Llama 3 style GGUF (random weights, trained vocabulary) prepares, and the
    prepared folder's tokenizer encodes like the tokenizer the GGUF was written from."""
    from engine.llm.session import LLMSession
    from engine.models.prepare import prepare

    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(tmp_path / "home"))
    hf = train_byte_level("llama-bpe")
    path = tiny_llama_gguf(tmp_path / "tiny-llama3.gguf", hf, "llama-bpe", chat_template=None)
    prepared = prepare(str(path), quant="fp32", name="tiny-llama3", min_agreement=0.0)
    session = LLMSession(prepared.folder, provider="cpu")
    reference = with_bos(hf)
    for text in TEXTS:
        assert session.encode(text) == reference.encode(text).ids
        assert session.decode(session.encode(text), skip_special_tokens=False) == BOS + text
    finished = session.complete("Größere Äpfel 😀", max_new_tokens=4)
    assert len(finished.token_ids) >= 1


# --- llama.cpp itself (the peers extra) ------------------------------------------------


@pytest.mark.parametrize("pre", sorted(PRE_TOKENIZERS))
def test_same_ids_as_llama_cpp(tmp_path: Path, pre: str) -> None:
    """Every `tokenizer.ggml.pre` value of the table against llama.cpp: the families above
    on their own trained vocabularies, the other names (which share their expressions, or
    have no Hugging Face counterpart, like "default") on one trained with GPT-2's."""
    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python (the `peers` extra) is not installed"
    )
    hf = train_byte_level(pre if pre in FAMILIES else "gpt-2")
    path = tiny_llama_gguf(tmp_path / f"{pre}.gguf", hf, pre, chat_template=None)
    llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    ours = build_tokenizer(path)
    try:
        for text in TEXTS:
            if not text:
                continue
            theirs = llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            assert ours.encode(text).ids == theirs, text
    finally:
        llama.close()
