"""What the run loop needs from a language model, and the adapter for `LLMSession`.

The loop only renders messages, counts tokens and streams one generation at a time
(optionally under a grammar). Tests plug a scripted fake model in through the same
protocol.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from engine.llm.chat import render_chat
from engine.llm.constraints import ConstraintTokenizer, Grammar, GrammarConstraint
from engine.llm.events import GenerationEvent
from engine.llm.sampling import SamplingParams
from engine.progress import CancelToken

Message = dict[str, str]


class StepModel(Protocol):
    """The model as the agent loop sees it."""

    name: str
    provider: str
    context_length: int
    manifest_hash: str
    sampling: SamplingParams

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for a conversation, ending where the assistant speaks next."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self,
        prompt: str,
        *,
        grammar: Grammar | None,
        max_new_tokens: int,
        cancel: CancelToken | None,
    ) -> Iterator[GenerationEvent]:
        """Stream engine.llm TokenDelta events, then one GenerationFinished."""
        ...


class SessionModel:
    """An `LLMSession` (a prepared model) with the agent's sampling settings."""

    #: Greedy decoding under a grammar picks the token it would pick without it whenever
    #: the grammar allows that token (the run loop relies on it to check an answer
    #: written without the grounded grammar instead of always paying for it).
    exact_under_grammar = True

    def __init__(self, session: Any, sampling: SamplingParams | None = None) -> None:
        self.session = session
        self.sampling = sampling or SamplingParams()
        self.name = str(session.manifest.name)
        self.provider = str(session.provider.active)
        self.context_length = int(session.context_length)
        manifest = session.folder / "model.json"
        self.manifest_hash = (
            hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else ""
        )
        # A model that writes its own observation is stopped there (the classic ReAct stop;
        # under the step grammar it cannot happen).
        self._stops = [*session.manifest.stop_strings, "\nObservation:"]
        self._tokenizer: ConstraintTokenizer | None = None

    def render(self, messages: Sequence[Message]) -> str:
        return render_chat(self.session, messages)

    def count_tokens(self, text: str) -> int:
        return len(self.session.encode(text, add_special_tokens=False))

    def constraint_tokenizer(self) -> ConstraintTokenizer:
        if self._tokenizer is None:
            self._tokenizer = ConstraintTokenizer.from_file(
                self.session.folder / "tokenizer.json", sorted(self.session.eos_ids)
            )
        return self._tokenizer

    def generate(
        self,
        prompt: str,
        *,
        grammar: Grammar | None,
        max_new_tokens: int,
        cancel: CancelToken | None,
    ) -> Iterator[GenerationEvent]:
        constraint = None
        if grammar is not None:
            constraint = GrammarConstraint(self.constraint_tokenizer(), grammar)
        return self.session.generate(
            prompt,
            max_new_tokens=max_new_tokens,
            sampling=self.sampling,
            stop=self._stops,
            constraint=constraint,
            cancel=cancel,
        )
