"""Which chat template a prepared model gets, and the stops read off it.

The model's own template comes first: a Hugging Face folder's ``chat_template.jinja`` or
its ``tokenizer_config.json`` ``chat_template`` (a string or a list of named templates), as
transformers reads them, or a GGUF file's ``tokenizer.chat_template`` (exported as
``source_chat_template.jinja``).
A model without one is a base model: it gets the plain transcript template and stops at
the next "User:". `model prepare --chat-template` can choose a built-in format or a file
instead (the way out when a model's template does not work here).

For a template, the end-of-turn marker is what it writes after an assistant's text; when
that is one of the tokenizer's added tokens its id joins the end-of-sequence ids, and its
text is the stop string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import Tokenizer

from engine import paths
from engine.errors import ModelError
from engine.llm.chat_template import ChatTemplate

__all__ = [
    "BUILTIN",
    "MODEL",
    "ChatSetup",
    "chat_setup",
    "check_choice",
    "check_template",
    "model_template",
]

TEMPLATES = paths.resource("templates")
#: `--chat-template` values: the model's own template, or a built-in one (or a file path).
MODEL = "model"
BUILTIN = {"base": "chat_base.jinja", "gemma": "chat_gemma.jinja"}
BASE_STOPS = ["\nUser:"]


@dataclass(frozen=True)
class ChatSetup:
    instruct: bool
    template: str
    origin: str  # where the template came from, for messages and docs
    stop_strings: list[str] = field(default_factory=list)
    eos_token_ids: list[int] = field(default_factory=list)


def model_template(folder: Path) -> tuple[str, str] | None:
    """(template, where it came from) of an exported model folder, or None (a base model).

    As transformers reads a Hugging Face folder: a ``chat_template.jinja`` file first, then
    ``tokenizer_config.json``'s ``chat_template``; then a GGUF file's template.
    """
    jinja = _text(folder / "chat_template.jinja")
    if jinja:
        return jinja, "chat_template.jinja"
    config_path = folder / "tokenizer_config.json"
    if config_path.is_file():
        try:
            data = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{config_path} is corrupt ({exc})") from exc
        template = data.get("chat_template") if isinstance(data, dict) else None
        if isinstance(template, list):  # named templates: the "default" one is for chat
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default")
        if isinstance(template, str) and template.strip():
            return template, "tokenizer_config.json"
    gguf = _text(folder / "source_chat_template.jinja")
    if gguf:
        return gguf, "the GGUF file's tokenizer.chat_template"
    return None


def _text(path: Path) -> str:
    """The file's text, or "" when it is missing or blank."""
    if not path.is_file():
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the chat template {path}: {exc}") from exc
    return text if text.strip() else ""


def check_choice(choice: str) -> Path:
    """A `--chat-template` value that names a file: that file; ModelError for a value that
    is neither a known name nor a file (checked before anything slow runs)."""
    path = Path(choice).expanduser()
    if choice not in (MODEL, *BUILTIN) and not path.is_file():
        raise ModelError(
            f"--chat-template {choice!r} is not {MODEL!r} (the model's own), "
            f"{' or '.join(map(repr, BUILTIN))} (built-in formats), nor a Jinja template file"
        )
    return path


def _chosen(folder: Path, choice: str) -> tuple[bool, str, str]:
    """(instruct?, template, origin) for a `--chat-template` choice."""
    if choice == MODEL:
        own = model_template(folder)
        if own is not None:
            return True, own[0], own[1]
        return False, (TEMPLATES / BUILTIN["base"]).read_text(encoding="utf-8"), "built-in base"
    if choice in BUILTIN:
        text = (TEMPLATES / BUILTIN[choice]).read_text(encoding="utf-8")
        return choice != "base", text, f"built-in {choice}"
    path = check_choice(choice)
    try:
        return True, path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the chat template {path}: {exc}") from exc


def chat_setup(
    folder: Path, choice: str, model: str, eos_ids: list[int], bos_id: int | None
) -> ChatSetup:
    """The chat template for the exported model in `folder`, checked by rendering it,
    with its stop strings and the end-of-sequence ids (`eos_ids` + the end-of-turn token).

    Raises ModelError naming the model and the template's error, with the fallback options.
    """
    instruct, source, origin = _chosen(folder, choice)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))

    def text(token_id: int | None) -> str:
        return (tokenizer.id_to_token(token_id) or "") if token_id is not None else ""

    template = ChatTemplate(source, model, text(bos_id), text(eos_ids[0] if eos_ids else None))
    marker = template.end_of_turn()  # also renders an agent-shaped conversation (`fit`)
    if not instruct:
        return ChatSetup(False, source, origin, list(BASE_STOPS), list(eos_ids))
    stops: list[str] = []
    eos = list(eos_ids)
    head = marker.lstrip()
    added = {t.content: i for i, t in tokenizer.get_added_tokens_decoder().items() if t.content}
    token = max((t for t in added if head.startswith(t)), key=len, default="")
    if token:
        stops.append(token)
        if added[token] not in eos:
            eos.append(added[token])
    elif head.strip():
        stops.append(head.strip().splitlines()[0])
    return ChatSetup(True, source, origin, stops, eos)


def check_template(folder: Path, choice: str, model: str) -> None:
    """Render the chosen template for the exported model in `folder` (its config's <bos>
    and <eos>), so a template that cannot work stops the preparation before quantizing."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder / 'config.json'} is unreadable ({exc})") from exc
    eos = config.get("eos_token_id")
    eos_ids = [eos] if isinstance(eos, int) else [i for i in eos or [] if isinstance(i, int)]
    chat_setup(folder, choice, model, eos_ids, config.get("bos_token_id"))
