"""Render a conversation with the prepared model's chat template (Jinja, from the folder)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import ModelError


def _raise(message: str) -> None:
    raise jinja2.TemplateError(message)


def render_chat(
    session: Any, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True
) -> str:
    """The prompt text for `messages` ({role, content}) in this model's format."""
    path = session.folder / session.manifest.chat_template
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"the model's chat template {path} is missing; prepare it again") from exc
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    try:
        template = env.from_string(source)
        bos = session.manifest.bos_token_id
        bos_token = session.tokenizer.id_to_token(bos) if bos is not None else ""
        text = template.render(
            messages=list(messages),
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token or "",
        )
    except jinja2.TemplateError as exc:
        raise ModelError(f"the model's chat template failed: {exc}") from exc
    # The tokenizer adds <bos> itself; a template that also writes it would double it.
    bos_token = session.tokenizer.id_to_token(session.manifest.bos_token_id or 0) or ""
    if bos_token and text.startswith(bos_token):
        text = text[len(bos_token) :]
    return str(text)


def chat_prompt(session: Any, messages: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
    """A conversation ready to generate from: (the prompt in this model's chat format, the
    strings that end the assistant's turn). The CLI, the demo and the window all use this."""
    return render_chat(session, messages), list(session.manifest.stop_strings)
