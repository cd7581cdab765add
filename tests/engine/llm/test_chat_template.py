"""Chat templates in the sandbox: the families' formats, the agent's conversations fitted to
them, the end-of-turn marker read off them, and what a hostile or broken template gets."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.errors import ModelError
from engine.llm.chat_template import (
    MAX_OUTPUT_CHARS,
    ChatTemplate,
    ChatTemplateError,
    adapt,
)
from engine.llm.stops import StopMatcher
from tests.helpers.chat_templates import AGENT_CONVERSATION, FAMILIES

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def _template(source: str, model: str = "tiny-test") -> ChatTemplate:
    return ChatTemplate(source, model, BOS, EOS)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_agent_conversation_ends_with_the_assistant_header(name: str) -> None:
    family = FAMILIES[name]
    template = _template(family.template)
    prompt = template.render(AGENT_CONVERSATION)
    assert prompt.endswith(family.header)
    assert template.fit == family.fit
    # Nothing of the conversation is lost, the observation included, in order.
    at = 0
    for message in AGENT_CONVERSATION:
        found = prompt.find(message["content"], at)
        assert found >= 0, message
        at = found + len(message["content"])


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_end_of_turn_marker_stops_a_reply(name: str) -> None:
    family = FAMILIES[name]
    template = _template(family.template)
    assert template.end_of_turn().lstrip().startswith(family.end_of_turn)
    # A model that writes the marker as text and goes on with a made-up next turn is cut
    # at the marker, streamed in small pieces.
    stream = f"Final Answer: 51{family.end_of_turn}\n{family.header}more"
    matcher = StopMatcher([family.end_of_turn])
    shown = ""
    for start in range(0, len(stream), 3):
        text, hit = matcher.feed(stream[start : start + 3])
        shown += text
        if hit:
            break
    assert shown == "Final Answer: 51"


def test_adaptations() -> None:
    tool_as_user = adapt(AGENT_CONVERSATION, "tool-as-user")
    assert [m["role"] for m in tool_as_user] == ["system", "user", "assistant", "user"]
    assert tool_as_user[-1]["content"] == "Observation: 51\n\nContinue."
    system_in_user = adapt(AGENT_CONVERSATION, "system-in-user")
    assert [m["role"] for m in system_in_user] == ["user", "assistant", "user"]
    assert system_in_user[0]["content"].startswith("You are a careful agent.")
    assert adapt(AGENT_CONVERSATION, "native") == AGENT_CONVERSATION


def test_a_template_without_a_system_role_gets_it_in_the_first_user_turn() -> None:
    source = (
        "{% for m in messages %}{% if m.role == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "[{{ m.role }}] {{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    template = _template(source)
    assert template.fit == "system-in-user"
    assert template.render(AGENT_CONVERSATION).startswith("[user] You are a careful agent.")


def test_template_helpers() -> None:
    source = (
        "{{ strftime_now('%Y') }}#{{ {'a': '<b>', 'n': [1]} | tojson }}#"
        "{{ {'k': 1} | tojson(indent=2) }}#"
        "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}"
        "{{ m.content }}{% endfor %}#{{ bos_token }}{{ eos_token }}"
    )
    text = _template(source).render_raw(AGENT_CONVERSATION)
    year, as_json, indented, first, specials = text.split("#")
    assert year == str(dt.datetime.now().year)
    assert as_json == '{"a": "<b>", "n": [1]}'  # not HTML-escaped, unlike Jinja's own
    assert indented == '{\n  "k": 1\n}'
    assert first == AGENT_CONVERSATION[0]["content"]
    assert specials == BOS + EOS


# --- errors and bounds ---------------------------------------------------------------


def test_raise_exception_names_the_model_the_message_and_the_fallback() -> None:
    template = _template("{{ raise_exception('only user turns, please') }}", model="odd-model")
    with pytest.raises(ChatTemplateError) as caught:
        template.render(AGENT_CONVERSATION)
    message = str(caught.value)
    assert "odd-model" in message and "only user turns, please" in message
    assert "--chat-template base" in message
    assert isinstance(caught.value, ModelError)


def test_a_syntax_error_is_named_with_its_line() -> None:
    with pytest.raises(ChatTemplateError, match=r"does not compile \(line 2: .*\)"):
        _template("{% for m in messages %}\n{{ m.content }\n{% endfor %}")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'a' * 100000000 }}", "limit"),
        ("{{ ['a'] * 100000000 }}", "limit"),
        ("{{ 'a'.ljust(100000000) }}", "limit"),
        ("{{ 'a' | center(100000000) }}", "limit"),
        ("{{ 10 ** 100000000 }}", "limit"),
        ("{% for i in range(100000) %}{{ 'y' * 50 }}{% endfor %}", "longer than"),
        ("{% include 'secrets.txt' %}", "no loader"),
        ("{% import 'x.jinja' as x %}", "no loader"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
        ("{{ messages.append(1) }}", "unsafe"),
        ("{{ range(10000000) | list }}", "range"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "RecursionError"),
    ],
    ids=[
        "string-product",
        "list-product",
        "ljust",
        "center-filter",
        "power",
        "output",
        "include",
        "import",
        "dunder",
        "mutation",
        "range",
        "recursion",
    ],
)
def test_a_hostile_template_is_an_error_not_a_hang(source: str, expected: str) -> None:
    with pytest.raises(ChatTemplateError, match=expected):
        _template(source).render_raw(AGENT_CONVERSATION)


def test_output_bound_is_generous_for_real_prompts() -> None:
    long_turn = [{"role": "user", "content": "x" * 500_000}]
    text = _template("{{ messages[0].content }}").render_raw(long_turn)
    assert len(text) == 500_000 < MAX_OUTPUT_CHARS


def test_a_template_that_drops_the_conversation_is_refused() -> None:
    template = _template("{% if add_generation_prompt %}<assistant>{% endif %}")
    with pytest.raises(ChatTemplateError, match="leaves out part of the conversation"):
        template.render(AGENT_CONVERSATION)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_renders_like_transformers(name: str) -> None:
    """The sandbox renders each template exactly as transformers' apply_chat_template does
    (same whitespace control, helpers and filters), on the conversation as fitted."""
    transformers = pytest.importorskip("transformers")
    from tests.helpers.byte_tokenizer import byte_tokenizer

    family = FAMILIES[name]
    hf = transformers.PreTrainedTokenizerFast(
        tokenizer_object=byte_tokenizer(), bos_token=BOS, eos_token=EOS
    )
    template = _template(family.template)
    messages = adapt(AGENT_CONVERSATION, template.fit)
    for generation_prompt in (True, False):
        expected = hf.apply_chat_template(
            messages,
            chat_template=family.template,
            tokenize=False,
            add_generation_prompt=generation_prompt,
        )
        assert template.render_raw(messages, generation_prompt) == expected
