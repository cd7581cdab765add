"""A scripted model for the agent loop: it plugs in where `SessionModel` does (StepModel).

Each generation returns the next scripted text (or the result of a scripted callable
given the prompt), streamed word by word; the grammar is recorded, not enforced, so
broken steps reach the loop's own parser just as a broken model's would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from engine.llm.events import GenerationFinished, GenerationStats, TokenDelta
from engine.llm.sampling import SamplingParams
from engine.progress import CancelToken

Script = str | Callable[[str], str]


class ScriptedModel:
    name = "fake"
    provider = "cpu"
    context_length = 4096
    manifest_hash = "0" * 64

    def __init__(self, outputs: Sequence[Script], *, delay: float = 0.0) -> None:
        self.outputs = list(outputs)
        self.delay = delay
        self.sampling = SamplingParams(seed=7)
        self.prompts: list[str] = []
        self.grammars: list[Any] = []
        self.max_new: list[int] = []

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nassistant:"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self,
        prompt: str,
        *,
        grammar: Any,
        max_new_tokens: int,
        cancel: CancelToken | None,
    ) -> Iterator[TokenDelta | GenerationFinished]:
        self.prompts.append(prompt)
        self.grammars.append(grammar)
        self.max_new.append(max_new_tokens)
        script = self.outputs.pop(0) if self.outputs else "Final Answer: (script ended)"
        text = script(prompt) if callable(script) else script
        start = time.monotonic()
        pieces = text.split(" ")
        pieces = [p + " " for p in pieces[:-1]] + pieces[-1:]
        out: list[str] = []
        reason = "grammar"
        for i, piece in enumerate(pieces):
            if cancel is not None and cancel.cancelled:
                reason = "cancelled"
                break
            if i >= max_new_tokens:
                reason = "max_tokens"
                break
            if self.delay:
                time.sleep(self.delay)  # a model that takes time per token (Stop, pacing)
            out.append(piece)
            yield TokenDelta(piece, i, i, time.monotonic())
        end = time.monotonic()
        stats = GenerationStats(
            provider="cpu",
            prompt_tokens=self.count_tokens(prompt),
            cached_tokens=0,
            new_tokens=len(out),
            ttft_ms=1.0,
            prefill_ms=1.0,
            prefill_tok_s=1000.0,
            decode_ms=(end - start) * 1000,
            decode_tok_s=100.0,
            t_start=start,
            t_first_token=start,
            t_end=end,
        )
        yield GenerationFinished("".join(out), tuple(range(len(out))), reason, stats, end)


def call(tool: str, arguments: str, thought: str = "") -> str:
    head = f"Thought: {thought}\n" if thought else ""
    return f" {head}Action: {tool}\nAction Input: {arguments}\n"


def final(text: str, label: str = "Final Answer") -> str:
    return f" {label}: {text}\n"


class GrammarFollowingModel(ScriptedModel):
    """A scripted model that obeys the step grammar, as a real constrained model must: it
    writes its script byte by byte, skipping any byte the grammar forbids, and when the
    script ends before the grammar does, it writes the first byte the grammar allows
    (a newline or the end when allowed). What it writes shows what the grammar let through."""

    exact_under_grammar = True

    def generate(
        self,
        prompt: str,
        *,
        grammar: Any,
        max_new_tokens: int,
        cancel: CancelToken | None,
    ) -> Iterator[TokenDelta | GenerationFinished]:
        script = self.outputs[0] if self.outputs else "Final Answer: (script ended)"
        wanted = script(prompt) if callable(script) else script
        if grammar is not None:
            self.outputs[:1] = [constrained(grammar, wanted)]
        return super().generate(
            prompt, grammar=grammar, max_new_tokens=max_new_tokens, cancel=cancel
        )


def constrained(grammar: Any, wanted: str, limit: int = 2000) -> str:
    """What a model that wants to write `wanted` writes under `grammar` (see above)."""
    import numpy as np

    from engine.llm.constraints import ConstraintTokenizer, GrammarConstraint
    from tests.helpers.byte_tokenizer import byte_tokenizer

    tokenizer = byte_tokenizer()
    constraint = GrammarConstraint(ConstraintTokenizer(tokenizer.to_str(), [0]), grammar)
    size = tokenizer.get_vocab_size()

    def allowed() -> set[int]:
        logits = np.zeros(size, dtype=np.float32)
        constraint.apply(logits)
        return {int(i) for i in np.flatnonzero(logits > -np.inf)}

    for token in tokenizer.encode(wanted).ids:
        if constraint.is_finished:
            break
        if token in allowed():
            constraint.advance(token)
    newline = tokenizer.encode("\n").ids[0]
    for _ in range(limit):
        if constraint.is_finished or constraint.allowed_eos:
            break
        ok = allowed()
        pick = newline if newline in ok else min(t for t in ok if t != 0)
        constraint.advance(pick)
    return tokenizer.decode(list(constraint.tokens))
