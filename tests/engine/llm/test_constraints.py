"""Constrained decoding against a real (small) BPE tokenizer and random logits."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import jsonschema
import llguidance
import numpy as np
import pytest
from llguidance.numpy import (
    allocate_token_bitmask,
    apply_token_bitmask_inplace,
    fill_next_token_bitmask,
)
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from engine.errors import GrammarError, ModelError
from engine.llm.constraints import ConstraintTokenizer, Grammar, GrammarConstraint

CORPUS = [
    '{"name": "Ada", "size": 36}',
    '{"name": "Grace Hopper", "size": 2}',
    "hello world, hi there!",
    "the quick brown fox jumps over the lazy dog",
    "yes no maybe red green blue dark red",
    "abc-1234 xyz-99 prefix: done",
] * 10

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "size": {"type": "integer", "enum": [1, 2, 36]},
    },
    "required": ["name", "size"],
    "additionalProperties": False,
}


def _byte_level_tokenizer() -> Tokenizer:
    """Byte-level BPE: every byte has a token, so any text can be produced."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def _no_fallback_tokenizer() -> Tokenizer:
    """SentencePiece-style BPE without byte fallback: only the corpus' characters exist."""
    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    trainer = trainers.BpeTrainer(vocab_size=80, special_tokens=["<eos>"], show_progress=False)
    tok.train_from_iterator(["hello world", "the quick brown fox", "yes no maybe"] * 10, trainer)
    return tok


@pytest.fixture(scope="module")
def hf_tok() -> Tokenizer:
    return _byte_level_tokenizer()


@pytest.fixture(scope="module")
def tok(hf_tok: Tokenizer) -> ConstraintTokenizer:
    eos = hf_tok.token_to_id("<eos>")
    assert eos is not None
    return ConstraintTokenizer(hf_tok.to_str(), eos)


def _generate(
    hf_tok: Tokenizer,
    tok: ConstraintTokenizer,
    grammar: Grammar,
    *,
    seed: int,
    padding: int = 0,
    fast_forward: bool = False,
    max_tokens: int = 300,
) -> str:
    """A token loop with random logits: mask, take the argmax, advance, until finished."""
    constraint = GrammarConstraint(tok, grammar)
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for _ in range(max_tokens):
        if constraint.is_finished:
            break
        if fast_forward and (forced := constraint.forced_tokens()):
            for token in forced:
                constraint.advance(token)
            out.extend(forced)
            continue
        logits = rng.standard_normal(tok.vocab_size + padding).astype(np.float32)
        logits[tok.vocab_size :] = 100.0  # padding rows would win if left unmasked
        constraint.apply(logits)
        assert np.isfinite(logits).any()
        assert np.all(np.isneginf(logits[tok.vocab_size :]))
        token = int(np.argmax(logits))
        constraint.advance(token)
        if token in tok.eos_token_ids:
            break
        out.append(token)
    else:
        pytest.fail(f"no end after {max_tokens} tokens: {hf_tok.decode(out)!r}")
    assert constraint.is_finished
    assert constraint.allowed_eos
    return str(hf_tok.decode(out))


# --- generation under each kind of grammar -------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_json_schema_output_is_valid(hf_tok: Tokenizer, tok: ConstraintTokenizer, seed: int):
    text = _generate(hf_tok, tok, Grammar.json_schema(SCHEMA), seed=seed)
    jsonschema.validate(json.loads(text), SCHEMA)


def test_json_schema_from_text_and_compact(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    grammar = Grammar.json_schema(json.dumps(SCHEMA), compact=True)
    assert grammar.kind == "json_schema"
    text = _generate(hf_tok, tok, grammar, seed=7)
    jsonschema.validate(json.loads(text), SCHEMA)
    assert text.startswith('{"') and text.endswith("}") and not text[-2].isspace()


@pytest.mark.parametrize("seed", range(3))
def test_lark_output_matches(hf_tok: Tokenizer, tok: ConstraintTokenizer, seed: int):
    grammar = Grammar.lark(
        'start: greeting " " name "!"\ngreeting: "hello" | "hi"\nname: /[a-z]{2,8}/\n'
    )
    text = _generate(hf_tok, tok, grammar, seed=seed)
    assert re.fullmatch(r"(hello|hi) [a-z]{2,8}!", text), text


@pytest.mark.parametrize("seed", range(3))
def test_regex_output_matches(hf_tok: Tokenizer, tok: ConstraintTokenizer, seed: int):
    text = _generate(hf_tok, tok, Grammar.regex(r"[a-z]{3}-[0-9]{2,4}"), seed=seed)
    assert re.fullmatch(r"[a-z]{3}-[0-9]{2,4}", text), text


def test_choice_output_is_an_option(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    options = ["red", "green", "blue", "dark red", 'say "hi"\n', "café"]
    grammar = Grammar.choice(options)
    seen = {_generate(hf_tok, tok, grammar, seed=seed) for seed in range(12)}
    assert seen <= set(options)
    assert len(seen) > 1


def test_fast_forward_tokens(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    grammar = Grammar.lark('start: "prefix: " /[a-z]{1,5}/ "."')
    constraint = GrammarConstraint(tok, grammar)
    forced = constraint.forced_tokens()
    assert forced
    assert "prefix: ".startswith(hf_tok.decode(forced))
    text = _generate(hf_tok, tok, grammar, seed=1, fast_forward=True)
    assert re.fullmatch(r"prefix: [a-z]{1,5}\.", text), text


def test_logits_longer_than_vocabulary_are_masked(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    text = _generate(hf_tok, tok, Grammar.regex("[a-z]{4}"), seed=3, padding=13)
    assert re.fullmatch("[a-z]{4}", text)


def test_apply_masks_exactly_the_disallowed_tokens(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    constraint = GrammarConstraint(tok, Grammar.choice(["hello", "hi"]))
    logits = np.zeros(tok.vocab_size + 5, dtype=np.float32)
    constraint.apply(logits)
    allowed = {int(i) for i in np.flatnonzero(np.isfinite(logits))}
    assert allowed
    for token in allowed:
        piece = hf_tok.decode([token])
        assert "hello".startswith(piece) or "hi".startswith(piece), piece
    assert hf_tok.token_to_id("h") in allowed
    assert hf_tok.token_to_id("x") not in allowed


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_apply_agrees_with_llguidance_reference(
    hf_tok: Tokenizer, tok: ConstraintTokenizer, dtype: type[np.floating]
):
    """Our branch-free masking equals llguidance's own NumPy kernel, step after step."""
    constraint = GrammarConstraint(tok, Grammar.json_schema(SCHEMA))
    reference = llguidance.LLMatcher(tok.llg, constraint.grammar.text, log_level=0)
    bitmask = allocate_token_bitmask(1, tok.vocab_size)
    rng = np.random.default_rng(5)
    for _ in range(25):
        logits = rng.standard_normal(tok.vocab_size + 3).astype(dtype)
        expected = logits.astype(np.float32)
        fill_next_token_bitmask(reference, bitmask)
        apply_token_bitmask_inplace(expected, bitmask)
        constraint.apply(logits)
        np.testing.assert_array_equal(logits.astype(np.float32), expected)
        token = int(np.argmax(logits))
        constraint.advance(token)
        assert reference.consume_token(token)
        if constraint.is_finished:
            break


def test_logits_shorter_than_vocabulary(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    constraint = GrammarConstraint(tok, Grammar.regex("[a-z]+"))
    logits = np.zeros(tok.vocab_size - 1, dtype=np.float32)
    constraint.apply(logits)
    assert np.isfinite(logits[hf_tok.token_to_id("a")])
    # Only token 0 (<eos>) fits in a one-entry row, and the grammar forbids it here.
    with pytest.raises(GrammarError, match="past the end of the logits row"):
        constraint.apply(np.zeros(1, dtype=np.float32))


def test_eos_and_finish_states(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    constraint = GrammarConstraint(tok, Grammar.regex("[a-z]+"))
    assert not constraint.allowed_eos and not constraint.is_finished
    for token in hf_tok.encode("ab").ids:
        constraint.advance(token)
    assert constraint.allowed_eos and not constraint.is_finished
    constraint.advance(tok.eos_token_ids[0])
    assert constraint.is_finished
    assert constraint.tokens[-1] == tok.eos_token_ids[0]


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "detail"),
    [
        (lambda: Grammar.regex("(a"), "unclosed group"),
        (lambda: Grammar.regex("(?=a)b"), "look-around"),
        (lambda: Grammar.lark("start: foo"), "foo"),
        (lambda: Grammar.json_schema({"type": "frobnicate"}), "frobnicate"),
        (lambda: Grammar.json_schema("{not json"), "not JSON"),
        (lambda: Grammar.json_schema("[1, 2]"), "expected a JSON object"),
        (lambda: Grammar.choice([]), "no options"),
    ],
)
def test_invalid_grammar_raises(build: Callable[[], Grammar], detail: str):
    with pytest.raises(GrammarError, match=re.escape(detail)) as info:
        build()
    assert "Check the" in str(info.value) or "Give at least" in str(info.value)


def test_choice_rejects_a_single_string():
    with pytest.raises(TypeError):
        Grammar.choice("yes")


def test_grammar_is_a_value():
    assert Grammar.regex("a+") == Grammar.regex("a+")
    assert hash(Grammar.choice(["a", "b"])) == hash(Grammar.choice(["a", "b"]))


def test_unsatisfiable_grammar_raises_at_once():
    hf = _no_fallback_tokenizer()
    tok = ConstraintTokenizer(hf.to_str(), hf.token_to_id("<eos>"))
    constraint = GrammarConstraint(tok, Grammar.regex("Z+"))
    with pytest.raises(GrammarError, match="No token of this model's vocabulary"):
        constraint.apply(np.zeros(tok.vocab_size, dtype=np.float32))


def test_unsatisfiable_grammar_raises_when_reached():
    hf = _no_fallback_tokenizer()
    tok = ConstraintTokenizer(hf.to_str(), hf.token_to_id("<eos>"))
    constraint = GrammarConstraint(tok, Grammar.regex("hello Z"))
    rng = np.random.default_rng(0)
    with pytest.raises(GrammarError, match="cannot produce") as info:
        for _ in range(20):
            logits = rng.standard_normal(tok.vocab_size).astype(np.float32)
            constraint.apply(logits)
            constraint.advance(int(np.argmax(logits)))
    assert "hello" in str(info.value)


def test_disallowed_token_raises_and_reset_recovers(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    constraint = GrammarConstraint(tok, Grammar.regex("abc"))
    with pytest.raises(GrammarError, match="not allowed"):
        constraint.advance(hf_tok.token_to_id("x"))
    with pytest.raises(GrammarError, match="reset"):
        constraint.apply(np.zeros(tok.vocab_size, dtype=np.float32))
    constraint.reset()
    for token in hf_tok.encode("abc").ids:
        constraint.advance(token)
    assert constraint.is_finished


def test_token_outside_vocabulary_raises_and_keeps_state(tok: ConstraintTokenizer):
    constraint = GrammarConstraint(tok, Grammar.regex("[a-z]+"))
    with pytest.raises(GrammarError, match="outside the tokenizer's vocabulary"):
        constraint.advance(tok.vocab_size + 2)
    constraint.apply(np.zeros(tok.vocab_size, dtype=np.float32))  # still usable


def test_apply_rejects_a_batch(tok: ConstraintTokenizer):
    constraint = GrammarConstraint(tok, Grammar.regex("a"))
    with pytest.raises(ValueError, match="1-D"):
        constraint.apply(np.zeros((1, tok.vocab_size), dtype=np.float32))


# --- the tokenizer ---------------------------------------------------------------------------


def test_tokenizer_facts(hf_tok: Tokenizer, tok: ConstraintTokenizer):
    assert tok.vocab_size == hf_tok.get_vocab_size()
    assert tok.eos_token_ids == (hf_tok.token_to_id("<eos>"),)
    assert tok.decode(hf_tok.encode("hello world").ids) == "hello world"


def test_tokenizer_rejects_bad_eos(hf_tok: Tokenizer):
    with pytest.raises(ModelError, match="out of range"):
        ConstraintTokenizer(hf_tok.to_str(), [0, 10_000])
    with pytest.raises(ModelError, match="at least one"):
        ConstraintTokenizer(hf_tok.to_str(), [])


def test_tokenizer_without_supported_decoder_raises():
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Whitespace()
    hf.train_from_iterator(
        ["hello world"], trainers.BpeTrainer(special_tokens=["<eos>"], show_progress=False)
    )
    with pytest.raises(ModelError, match="cannot drive constrained decoding"):
        ConstraintTokenizer(hf.to_str(), 0)


def test_from_file_is_cached_until_the_file_changes(hf_tok: Tokenizer, tmp_path: Path):
    path = tmp_path / "tokenizer.json"
    hf_tok.save(str(path))
    first = ConstraintTokenizer.from_file(path, 0)
    assert ConstraintTokenizer.from_file(str(path), [0]) is first
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert ConstraintTokenizer.from_file(path, 0) is not first
    with pytest.raises(ModelError, match="Cannot read"):
        ConstraintTokenizer.from_file(tmp_path / "missing.json", 0)
