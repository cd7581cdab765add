"""Constrained decoding: a grammar decides which tokens the model may sample next.

One step of the token loop, with a constraint::

    logits = session.step(...)            # 1-D float row, length >= tokenizer vocabulary
    constraint.apply(logits)              # disallowed tokens -> -inf, in place
    token = sample(logits)
    constraint.advance(token)
    if constraint.is_finished: stop

`Grammar` holds a validated llguidance grammar (JSON schema, Lark, regex or a fixed
choice). `ConstraintTokenizer` holds llguidance's view of a model's tokenizer; building it
costs seconds for a large vocabulary, so build it once per model (`from_file` caches).
`GrammarConstraint` is the state of one generation: a matcher plus a bitmask allocated once.

Only numpy, tokenizers (through llguidance) and llguidance are needed at run time.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import llguidance
import numpy as np
from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

from engine.errors import GrammarError, ModelError
from engine.llm.stats import release_freed_memory

GrammarKind = Literal["json_schema", "lark", "regex", "choice"]

# Short error messages: the verbose ones dump the parser state and the whole grammar.
_LIMITS = llguidance.LLParserLimits(verbose_errors=False)

# The bit pattern of float32 -inf, read as an int32 (0xFF800000).
_NEG_INF_BITS = np.array(-np.inf, dtype=np.float32).view(np.int32)
_LITTLE_ENDIAN = sys.byteorder == "little"

_HINTS: dict[str, str] = {
    "json_schema": (
        "Check the schema: llguidance supports most of JSON Schema (types, properties, "
        "required, enum, const, anyOf, $ref, pattern, min/max lengths) but rejects unknown "
        "formats and keywords it cannot enforce."
    ),
    "lark": (
        "Check the grammar: it needs a `start` rule, every rule it names must be defined, "
        "and terminals are quoted strings or /regexes/ (llguidance's Lark dialect)."
    ),
    "regex": (
        "Check the pattern: it uses Rust `regex` syntax, which has no look-around and no "
        "back-references; the whole output must match it."
    ),
    "choice": "Give at least one option; each option is a literal string.",
}


def _clean(message: str) -> str:
    """llguidance's message without the `<non-verbose/>` marker and trailing blank lines."""
    return message.replace("<non-verbose/>", "").strip()


@dataclass(frozen=True)
class Grammar:
    """A validated llguidance grammar. Build it with one of the class methods.

    `source` is what the person wrote (the schema as JSON, the Lark text, the pattern, the
    options as a JSON list); `text` is the llguidance grammar handed to the matcher;
    `warnings` are llguidance's remarks about a valid grammar (e.g. unused rules).
    Construction validates; an invalid grammar raises `GrammarError`.
    """

    kind: GrammarKind
    source: str
    text: str
    warnings: tuple[str, ...] = field(init=False, default=(), compare=False)

    def __post_init__(self) -> None:
        is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
            self.text, None, limits=_LIMITS
        )
        if is_error:
            detail = _clean(messages[0]) if messages else "unknown error"
            raise GrammarError(f"Invalid {_label(self.kind)}: {detail}\n{_HINTS[self.kind]}")
        object.__setattr__(self, "warnings", tuple(_clean(m) for m in messages))

    @classmethod
    def json_schema(cls, schema: Mapping[str, Any] | str, *, compact: bool = False) -> Grammar:
        """Output must be JSON valid against `schema` (a dict, or its JSON text).

        `compact` forbids whitespace between JSON tokens (fewer tokens, no runaway blank
        lines from a small model); by default whitespace is free, as a model tends to write it.
        """
        if isinstance(schema, str):
            try:
                parsed = json.loads(schema)
            except json.JSONDecodeError as exc:
                raise GrammarError(
                    f"Invalid JSON schema: not JSON ({exc}).\n{_HINTS['json_schema']}"
                ) from exc
        else:
            parsed = dict(schema)
        if not isinstance(parsed, dict):
            raise GrammarError(
                f"Invalid JSON schema: expected a JSON object, got {type(parsed).__name__}.\n"
                f"{_HINTS['json_schema']}"
            )
        try:
            text = llguidance.LLMatcher.grammar_from_json_schema(
                parsed, overrides={"whitespace_flexible": False} if compact else None
            )
        except (ValueError, TypeError) as exc:  # not serialisable to JSON
            raise GrammarError(f"Invalid JSON schema: {exc}.\n{_HINTS['json_schema']}") from exc
        return cls("json_schema", json.dumps(parsed, ensure_ascii=False), text)

    @classmethod
    def lark(cls, text: str) -> Grammar:
        """Output must match a Lark grammar (llguidance dialect; the `start` rule)."""
        return cls("lark", text, llguidance.LLMatcher.grammar_from_lark(text))

    @classmethod
    def regex(cls, pattern: str) -> Grammar:
        """The whole output must match `pattern` (Rust regex syntax)."""
        return cls("regex", pattern, llguidance.LLMatcher.grammar_from_regex(pattern))

    @classmethod
    def choice(cls, options: Sequence[str]) -> Grammar:
        """Output must be exactly one of `options`."""
        if isinstance(options, str):
            raise TypeError("Grammar.choice takes a list of strings, not one string")
        if not options:
            raise GrammarError(f"Invalid choice: no options.\n{_HINTS['choice']}")
        # A Lark string literal has JSON escapes, so json.dumps quotes any option safely.
        quoted = [json.dumps(str(option), ensure_ascii=False) for option in options]
        source = json.dumps(list(options), ensure_ascii=False)
        return cls(
            "choice", source, llguidance.LLMatcher.grammar_from_lark("start: " + " | ".join(quoted))
        )


def _label(kind: str) -> str:
    return {"json_schema": "JSON schema", "lark": "Lark grammar", "regex": "regex"}.get(kind, kind)


class ConstraintTokenizer:
    """llguidance's view of a model's tokenizer (tokenizer.json text + end-of-sequence ids).

    Immutable and safe to share between generations; build it once per model.
    """

    def __init__(self, tokenizer_json: str, eos_token_ids: int | Sequence[int]) -> None:
        eos = (eos_token_ids,) if isinstance(eos_token_ids, int) else tuple(eos_token_ids)
        if not eos:
            raise ModelError("Constrained decoding needs at least one end-of-sequence token id.")
        if any(i < 0 for i in eos):
            raise ModelError(f"End-of-sequence token ids must not be negative, got {list(eos)}.")
        try:
            self._llg = llguidance.LLTokenizer(tokenizer_json, eos_token=list(eos))
        except ValueError as exc:
            hint = (
                "Check the end-of-sequence ids in generation_config.json."
                if "EOS" in str(exc)
                else "llguidance reads tokenizer.json files with a byte-level or byte-fallback "
                "decoder."
            )
            raise ModelError(
                f"This tokenizer cannot drive constrained decoding: {exc}. {hint}"
            ) from exc
        self._eos = eos

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], eos_token_ids: int | Sequence[int]
    ) -> ConstraintTokenizer:
        """Load a tokenizer.json; the same unchanged file is built only once per process."""
        resolved = Path(path).resolve()
        try:
            stat = resolved.stat()
        except OSError as exc:
            raise ModelError(f"Cannot read the tokenizer file {resolved}: {exc}") from exc
        eos = (eos_token_ids,) if isinstance(eos_token_ids, int) else tuple(eos_token_ids)
        return _load_cached(str(resolved), stat.st_mtime_ns, stat.st_size, eos)

    @property
    def vocab_size(self) -> int:
        """Number of token ids the tokenizer knows (a model's logits may be longer)."""
        return int(self._llg.vocab_size)

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self._eos

    @property
    def llg(self) -> llguidance.LLTokenizer:
        """The underlying llguidance tokenizer."""
        return self._llg

    def decode(self, token_ids: Sequence[int]) -> str:
        """Text of `token_ids` (special tokens shown by name, invalid UTF-8 replaced)."""
        return str(self._llg.decode_str(list(token_ids)))

    def __repr__(self) -> str:
        return f"ConstraintTokenizer(vocab_size={self.vocab_size}, eos_token_ids={self._eos})"


@functools.lru_cache(maxsize=2)  # a Gemma-sized tokenizer takes seconds and memory
def _load_cached(path: str, mtime_ns: int, size: int, eos: tuple[int, ...]) -> ConstraintTokenizer:
    del mtime_ns, size  # part of the cache key only: a changed file is loaded again
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"Cannot read the tokenizer file {path}: {exc}") from exc
    tokenizer = ConstraintTokenizer(text, eos)
    del text
    # Building llguidance's view of a 262k vocabulary leaves ~170 MB of freed heap behind.
    release_freed_memory()
    return tokenizer


class GrammarConstraint:
    """The grammar state of one generation. Not thread-safe; one per running generation."""

    def __init__(self, tokenizer: ConstraintTokenizer, grammar: Grammar) -> None:
        self._tokenizer = tokenizer
        self._grammar = grammar
        self._vocab = tokenizer.vocab_size
        self._matcher = self._new_matcher()
        self._tokens: list[int] = []
        # Allocated once: the matcher writes one bit per token (1 = allowed) into `_mask`;
        # `_keep` spreads those bits to one int32 per token (-1 = allowed, 0 = forbidden).
        self._mask = allocate_token_bitmask(1, self._vocab)
        self._keep = np.empty(self._vocab, dtype=np.int32)

    def _new_matcher(self) -> llguidance.LLMatcher:
        matcher = llguidance.LLMatcher(
            self._tokenizer.llg, self._grammar.text, log_level=0, limits=_LIMITS
        )
        if matcher.is_error():
            raise GrammarError(
                f"Invalid {_label(self._grammar.kind)} for this tokenizer: "
                f"{_clean(matcher.get_error())}\n{_HINTS[self._grammar.kind]}"
            )
        return matcher

    @property
    def grammar(self) -> Grammar:
        return self._grammar

    @property
    def tokens(self) -> tuple[int, ...]:
        """Tokens accepted so far."""
        return tuple(self._tokens)

    @property
    def is_finished(self) -> bool:
        """The grammar is complete and nothing may follow (except an end-of-sequence token)."""
        return bool(self._matcher.is_stopped()) and not self._matcher.is_error()

    @property
    def allowed_eos(self) -> bool:
        """The output so far satisfies the grammar, so generation may end here."""
        return bool(self._matcher.is_accepting()) and not self._matcher.is_error()

    def apply(self, logits: np.ndarray) -> None:
        """Set every token the grammar forbids next to -inf, in place.

        `logits` is one 1-D floating row; entries past the tokenizer's vocabulary (padding
        rows of the model's output layer) are always forbidden.
        """
        if logits.ndim != 1 or not np.issubdtype(logits.dtype, np.floating):
            raise ValueError(f"expected a 1-D float logits row, got {logits.dtype} {logits.shape}")
        self._raise_if_broken()
        fill_next_token_bitmask(self._matcher, self._mask)
        if self._matcher.is_error():
            error = _clean(self._matcher.get_error())
            if "NoExtension" in error:  # no token can extend the output
                raise self._dead_end(error)
            raise GrammarError(
                f"The {_label(self._grammar.kind)} stopped after {self._tail()!r}: {error}"
            )
        row = self._mask[0]
        if not row.any():
            raise self._dead_end("the mask is empty")
        # Little-endian words: unpacking their bytes bit by bit gives the tokens in order.
        words = row if _LITTLE_ENDIAN else row.astype("<i4")
        n = min(logits.shape[0], self._vocab)
        allowed = np.unpackbits(words.view(np.uint8), count=n, bitorder="little")
        if n < self._vocab and not allowed.any():
            raise self._dead_end("every allowed token lies past the end of the logits row")
        head = logits[:n]
        if head.dtype == np.float32:
            # Branch-free, so the cost does not depend on the mask's pattern (a boolean
            # `where=` is several times slower on a fragmented mask):
            # bits = ((bits ^ NEG_INF) & keep) ^ NEG_INF keeps a logit or makes it -inf.
            keep = self._keep[:n]
            np.subtract(0, allowed, out=keep, dtype=np.int32)
            ints = head.view(np.int32)
            np.bitwise_xor(ints, _NEG_INF_BITS, out=ints)
            np.bitwise_and(ints, keep, out=ints)
            np.bitwise_xor(ints, _NEG_INF_BITS, out=ints)
        else:
            np.copyto(head, -np.inf, where=allowed == 0)
        logits[n:] = -np.inf

    def advance(self, token_id: int) -> None:
        """Accept the sampled token; a token the grammar forbids raises `GrammarError`."""
        token_id = int(token_id)
        if not 0 <= token_id < self._vocab:
            # Checked here: llguidance would put the matcher in a permanent error state.
            raise GrammarError(
                f"Token id {token_id} is outside the tokenizer's vocabulary "
                f"({self._vocab} tokens); was apply() called on these logits?"
            )
        self._raise_if_broken()
        if not self._matcher.consume_token(token_id):
            raise GrammarError(
                f"Token {token_id} {self._tokenizer.llg.dbg_tokens([token_id])} is not allowed "
                f"by the {_label(self._grammar.kind)} after {self._tail()!r}: "
                f"{_clean(self._matcher.get_error())}"
            )
        self._tokens.append(token_id)

    def forced_tokens(self) -> list[int]:
        """Tokens the grammar forces from here, if any: feed them without sampling.

        Call `advance` for each of them after feeding them to the model.
        """
        if self._matcher.is_error() or self._matcher.is_stopped():
            return []
        return list(self._matcher.compute_ff_tokens())

    def reset(self) -> None:
        """Back to the start of the grammar, for a new generation with the same grammar."""
        if self._matcher.is_error():
            self._matcher = self._new_matcher()  # an error state is permanent in llguidance
        else:
            self._matcher.reset()
        self._tokens.clear()

    def _raise_if_broken(self) -> None:
        if self._matcher.is_error():
            raise GrammarError(
                f"The constraint is in an error state ({_clean(self._matcher.get_error())}); "
                "call reset() to start again."
            )

    def _dead_end(self, detail: str) -> GrammarError:
        return GrammarError(
            f"No token of this model's vocabulary can continue the "
            f"{_label(self._grammar.kind)} after {self._tail()!r} ({detail}).\n"
            "The grammar needs text this tokenizer cannot produce (a character with no token "
            "and no byte fallback); allow an alternative or change the grammar."
        )

    def _tail(self, limit: int = 80) -> str:
        text = self._tokenizer.decode(self._tokens)
        return text if len(text) <= limit else "…" + text[-limit:]
