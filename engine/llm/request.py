"""One generation asked for by a person: the prompt and its options, turned into
`LLMSession.generate`'s arguments in one place (`generate`, `profile record -- generate`
and the window's generation console all build their requests here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.llm.chat import chat_prompt
from engine.llm.sampling import SamplingParams


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    max_new_tokens: int = 128
    sampling: SamplingParams = field(default_factory=SamplingParams)
    chat: bool = False  # wrap the prompt as one user turn in the model's chat template
    json_schema: str | None = None  # constrain the output: a JSON Schema, as text or a file
    grammar: str | None = None  # constrain the output: a Lark grammar file

    def arguments(self, session: Any) -> tuple[str, dict[str, Any]]:
        """(prompt, the rest of `session.generate`'s keyword arguments)."""
        prompt, stop = self.prompt, list[str]()
        if self.chat:
            prompt, stop = chat_prompt(session, [{"role": "user", "content": self.prompt}])
        constraint = self._constraint(session) if (self.json_schema or self.grammar) else None
        return prompt, {
            "max_new_tokens": self.max_new_tokens,
            "sampling": self.sampling,
            "stop": stop,
            "constraint": constraint,
        }

    def _constraint(self, session: Any) -> Any:
        from engine.llm.constraints import ConstraintTokenizer, Grammar, GrammarConstraint

        if self.json_schema:
            text = self.json_schema
            path = Path(text)
            if len(text) < 4096 and path.is_file():
                text = path.read_text(encoding="utf-8")
            grammar = Grammar.json_schema(text, compact=True)
        else:
            assert self.grammar is not None
            try:
                source = Path(self.grammar).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise WorkbenchError(
                    f"cannot read the grammar file {self.grammar}: {exc}; give a Lark file"
                ) from exc
            grammar = Grammar.lark(source)
        tok = ConstraintTokenizer.from_file(
            session.folder / "tokenizer.json", sorted(session.eos_ids)
        )
        return GrammarConstraint(tok, grammar)
