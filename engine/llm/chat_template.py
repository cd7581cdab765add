"""A model's own chat template, rendered safely, fitted to the agent's conversations.

Chat templates are Jinja programs written by whoever published the model. They run here in
Jinja's immutable sandbox with no loader (no ``include``/``import`` of files), with the
helpers Hugging Face templates expect (``raise_exception``, ``strftime_now``, a
``tojson`` that does not HTML-escape, ``break``/``continue``), and with bounds: products of
strings or lists, powers, padding widths and the whole output are capped, so a hostile or
broken template is an error, not a machine out of memory.

Templates differ in which roles they accept: some raise on a ``tool`` or ``system`` turn,
some insist on user/assistant alternation, some drop roles they do not know without a
word. `ChatTemplate.fit` finds, once per template, the first of three ways of writing the
agent's conversation that renders and keeps every message (see `ADAPTATIONS`). The
end-of-turn marker (``<|im_end|>``, ``<|eot_id|>``, ``<end_of_turn>`` ...) is read off the
template by rendering a one-exchange conversation and looking at what follows the
assistant's text.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from engine.errors import ModelError

__all__ = [
    "ADAPTATIONS",
    "MAX_OUTPUT_CHARS",
    "ChatTemplate",
    "ChatTemplateError",
    "compile_template",
]

Message = dict[str, str]

#: The longest text a template may write (a 32k-token context is ~150k characters).
MAX_OUTPUT_CHARS = 2_000_000
#: The longest string or list one ``*``, padding or ``range`` may make inside a template.
MAX_ITEM_LENGTH = 1_000_000

#: How the agent's conversation may be written for a template, tried in this order:
#: as it is; with tool results as user turns ("Observation: ...") and consecutive turns of
#: one role joined; and that with the system text put in front of the first user turn.
ADAPTATIONS = ("native", "tool-as-user", "system-in-user")

FALLBACK_HINT = (
    "prepare the model again with --chat-template base (a plain transcript), "
    "--chat-template gemma (Gemma's turn format) or --chat-template FILE (a Jinja template "
    "of your own), with --force"
)

#: Contents of the probe conversations: plain words no template rewrites.
_PROBE = {
    "system": "probe system text",
    "user": "probe user question",
    "assistant": "probe assistant reply",
    "tool": "probe tool result",
    "user2": "probe second question",
}


class ChatTemplateError(ModelError):
    """A chat template that does not compile, fails or runs past its bounds."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the sizes of what a template can build bounded."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sized, count in ((left, right), (right, left)):
                if isinstance(sized, str | list | tuple) and isinstance(count, int):
                    _check_length(len(sized) * count, "a repeated string or list")
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            _check_length(abs(left).bit_length() * right, "a power's bit length")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        if isinstance(getattr(__obj, "__self__", None), str) and name in _WIDTH_METHODS:
            widths = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
            _check_length(max(widths, default=0), f"str.{name}")
        return super().call(__context, __obj, *args, **kwargs)


_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _check_length(length: int, what: str) -> None:
    if length > MAX_ITEM_LENGTH:
        raise SecurityError(
            f"{what} of {length:,} items is over the chat-template limit of {MAX_ITEM_LENGTH:,}"
        )


def _raise_exception(message: str) -> None:
    raise jinja2.TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return dt.datetime.now().strftime(fmt)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Like Hugging Face's: plain JSON, not Jinja's HTML-escaped `tojson`.
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _bounded_filter(name: str, width_arg: int) -> Any:
    original = jinja2.filters.FILTERS[name]

    def bounded(*args: Any, **kwargs: Any) -> Any:
        if len(args) > width_arg and isinstance(args[width_arg], int):
            _check_length(args[width_arg], f"the {name} filter's width")
        return original(*args, **kwargs)

    return bounded


@functools.lru_cache(maxsize=1)
def _environment() -> _Sandbox:
    env = _Sandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols],
        autoescape=False,
    )
    env.globals.update(raise_exception=_raise_exception, strftime_now=_strftime_now)
    env.filters["tojson"] = _tojson
    env.filters["center"] = _bounded_filter("center", 1)
    env.filters["indent"] = _bounded_filter("indent", 1)
    return env


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"line {exc.lineno}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class ChatTemplate:
    """One model's chat template, compiled in the sandbox.

    `model` names the model in error messages; `bos_token` / `eos_token` are the texts the
    template sees under those names.
    """

    def __init__(self, source: str, model: str, bos_token: str = "", eos_token: str = "") -> None:
        self.source = source
        self.model = model
        self.bos_token = bos_token
        self.eos_token = eos_token
        try:
            self._template = _environment().from_string(source)
        except (jinja2.TemplateError, SecurityError, RecursionError, MemoryError) as exc:
            raise self._error("does not compile", exc) from exc

    def _error(self, what: str, exc: BaseException) -> ChatTemplateError:
        return ChatTemplateError(
            f"The chat template of {self.model} {what} ({_describe(exc)}). To use a built-in "
            f"format instead, {FALLBACK_HINT}."
        )

    # ------------------------------------------------------------------ rendering
    def render_raw(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """The template's output for `messages`, exactly as it writes it."""
        context = {
            "messages": [dict(m) for m in messages],
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
        }
        try:
            return _bounded_join(self._template.generate(**context))
        except Exception as exc:  # anything a stranger's template does
            raise self._error("failed", exc) from exc

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """`messages` written the way this template accepts them (`fit`), rendered."""
        adapted = adapt(messages, self.fit)
        return self.render_raw(adapted, add_generation_prompt)

    # ------------------------------------------------------------------ probing
    @functools.cached_property
    def fit(self) -> str:
        """The first of `ADAPTATIONS` under which an agent-shaped conversation (system,
        user, assistant, tool, user) renders with every message's text in order."""
        p = _PROBE
        probe = [
            {"role": "system", "content": p["system"]},
            {"role": "user", "content": p["user"]},
            {"role": "assistant", "content": p["assistant"]},
            {"role": "tool", "content": p["tool"]},
            {"role": "user", "content": p["user2"]},
        ]
        wanted = [p["system"], p["user"], p["assistant"], p["tool"], p["user2"]]
        failure: BaseException | None = None
        for adaptation in ADAPTATIONS:
            try:
                text = self.render_raw(adapt(probe, adaptation))
            except ChatTemplateError as exc:
                failure = exc.__cause__ or exc
                continue
            if _in_order(text, wanted):
                return adaptation
        reason = failure or ValueError("it leaves out part of the conversation")
        raise self._error("cannot render a conversation with system, tool and user turns", reason)

    def end_of_turn(self) -> str:
        """What the template writes right after an assistant's text ("" when nothing)."""
        user, reply = _PROBE["user"], _PROBE["assistant"]
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
        text = self.render_raw(adapt(messages, self.fit), add_generation_prompt=False)
        at = text.rfind(reply)
        if at < 0:
            raise self._error("drops the assistant's reply", ValueError(text[-200:]))
        return text[at + len(reply) :]

    def generation_prompt(self) -> str:
        """What the template writes after a user turn to let the assistant speak: the end
        of the user turn and the assistant's header."""
        user = _PROBE["user"]
        text = self.render_raw([{"role": "user", "content": user}], add_generation_prompt=True)
        return text[text.rfind(user) + len(user) :]


def _bounded_join(chunks: Iterator[str]) -> str:
    parts: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT_CHARS:
            raise SecurityError(f"the output is longer than {MAX_OUTPUT_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _in_order(text: str, pieces: Sequence[str]) -> bool:
    at = 0
    for piece in pieces:
        found = text.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def adapt(messages: Sequence[Message], adaptation: str) -> list[Message]:
    """`messages` written for a template that needs `adaptation` (see ADAPTATIONS)."""
    out = [dict(m) for m in messages]
    if adaptation == "native":
        return out
    merged: list[Message] = []
    for message in out:
        if message["role"] == "tool":
            message = {"role": "user", "content": f"Observation: {message['content']}"}
        if merged and merged[-1]["role"] == message["role"] and message["role"] != "system":
            merged[-1] = {
                "role": message["role"],
                "content": f"{merged[-1]['content']}\n\n{message['content']}",
            }
        else:
            merged.append(message)
    if adaptation == "system-in-user":
        system = [m["content"] for m in merged if m["role"] == "system"]
        rest = [m for m in merged if m["role"] != "system"]
        if system and rest and rest[0]["role"] == "user":
            text = "\n\n".join(system)
            rest[0] = {"role": "user", "content": f"{text}\n\n{rest[0]['content']}"}
        elif system:
            rest.insert(0, {"role": "user", "content": "\n\n".join(system)})
        return rest
    return merged


@functools.lru_cache(maxsize=16)
def compile_template(source: str, model: str, bos_token: str, eos_token: str) -> ChatTemplate:
    """A compiled template, shared by every caller with the same inputs (its `fit` is
    then probed once)."""
    return ChatTemplate(source, model, bos_token, eos_token)
