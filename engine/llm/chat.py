"""Render a conversation with the prepared model's chat template (Jinja, from the folder).

The template is the model's own (or the built-in base-model transcript for a base model),
chosen and checked when the model was prepared (engine.models.chat_templates); it runs
in the sandbox of engine.llm.chat_template, fitted to the roles it accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from engine.errors import ModelError
from engine.llm.chat_template import ChatTemplate, compile_template
from engine.manifest import Manifest

__all__ = ["ChatFormat", "chat_prompt", "render_chat"]


class ChatFormat:
    """How a prepared model turns a conversation into prompt text and tokens.

    <bos> is left to the tokenizer when the tokenizer adds it (a template that writes
    ``{{ bos_token }}`` would otherwise double it).
    """

    def __init__(self, folder: Path, manifest: Manifest, tokenizer: Tokenizer) -> None:
        path = folder / manifest.chat_template
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(
                f"the chat template of {manifest.name} ({path}) is missing or unreadable; "
                "prepare the model again with --force"
            ) from exc
        self.tokenizer = tokenizer
        self.stop_strings = list(manifest.stop_strings)
        bos_id = manifest.bos_token_id
        eos_id = manifest.eos_token_ids[0] if manifest.eos_token_ids else None
        self.bos_token = _token(tokenizer, bos_id)
        adds = tokenizer.encode("", add_special_tokens=True).ids
        self._strip_bos = bool(self.bos_token) and adds[:1] == [bos_id]
        self.template: ChatTemplate = compile_template(
            source, manifest.name, self.bos_token, _token(tokenizer, eos_id)
        )

    @classmethod
    def load(cls, folder: Path) -> ChatFormat:
        """The format of a prepared folder without loading the model (the prompt preview);
        read again when the folder's manifest changes (the model was prepared again)."""
        path = Path(folder).resolve()
        try:
            stamp = (path / "model.json").stat().st_mtime_ns
        except OSError:
            stamp = 0  # Manifest.read says what is wrong
        return _load(str(path), stamp)

    def render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The prompt text for `messages` ({role, content}) in this model's format."""
        text = self.template.render(messages, add_generation_prompt)
        if self._strip_bos and text.startswith(self.bos_token):
            text = text[len(self.bos_token) :]
        return text

    def count_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        """The tokens the model reads for `messages` as a prompt: template markers, the
        tokenizer's <bos>, the assistant's header, everything."""
        prompt = self.render(messages)
        return len(self.tokenizer.encode(prompt, add_special_tokens=True).ids)


def _token(tokenizer: Tokenizer, token_id: int | None) -> str:
    return (tokenizer.id_to_token(token_id) or "") if token_id is not None else ""


@functools.lru_cache(maxsize=4)
def _load(folder: str, stamp: int) -> ChatFormat:
    path = Path(folder)
    manifest = Manifest.read(path)
    try:
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as exc:  # the tokenizers library raises plain Exceptions
        raise ModelError(f"{path / 'tokenizer.json'} is not a valid tokenizer.json: {exc}") from exc
    return ChatFormat(path, manifest, tokenizer)


def render_chat(
    session: Any, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True
) -> str:
    """The prompt text for `messages` ({role, content}) in this session's model's format."""
    chat = ChatFormat(session.folder, session.manifest, session.tokenizer)
    return chat.render(messages, add_generation_prompt)


def chat_prompt(session: Any, messages: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
    """A conversation ready to generate from: (the prompt in this model's chat format, the
    strings that end the assistant's turn). The CLI, the demo and the window all use this."""
    return render_chat(session, messages), list(session.manifest.stop_strings)
