"""Does a grammar accept a text? Fed byte by byte through the real llguidance matcher."""

from __future__ import annotations

from engine.errors import GrammarError
from engine.llm.constraints import ConstraintTokenizer, Grammar, GrammarConstraint
from tests.helpers.byte_tokenizer import byte_tokenizer


def accepts(grammar: Grammar, text: str) -> bool:
    tokenizer = byte_tokenizer()
    constraint = GrammarConstraint(ConstraintTokenizer(tokenizer.to_str(), [0]), grammar)
    try:
        for token in tokenizer.encode(text).ids:
            constraint.advance(token)
    except GrammarError:
        return False
    return constraint.allowed_eos
