"""Prepared models keep their own chat template, and the agent's step prompt agrees with it.

Tiny random Llamas (2 layers, hidden 64) carry a trained byte-level tokenizer and a chat
template of one family each (tests/helpers/chat_templates.py), as a GGUF file or a Hugging
Face folder. Preparing them must keep the template, derive the end-of-turn stop from it,
render the agent's conversation ending with the family's assistant header, and count the
prompt's tokens as the model reads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ModelError
from engine.llm.chat import ChatFormat, chat_prompt
from tests.helpers.chat_templates import AGENT_CONVERSATION, FAMILIES
from tests.helpers.tiny_gguf import BOS, EOS, tiny_llama_folder, tiny_llama_gguf, train_byte_level

pytestmark = pytest.mark.export
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    return train_byte_level("llama-bpe")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(home))
    return home


def _prepare(source: Path, name: str, **kw: Any) -> Any:
    from engine.models.prepare import prepare

    return prepare(str(source), quant="fp32", name=name, min_agreement=0.0, **kw)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_gguf_keeps_its_own_template_and_the_agent_prompt_agrees(
    tokenizer: Any, tmp_path: Path, home: Path, family: str
) -> None:
    from engine.agent.model import SessionModel
    from engine.llm.session import LLMSession

    spec = FAMILIES[family]
    path = tiny_llama_gguf(tmp_path / f"{family}.gguf", tokenizer, "llama-bpe", spec.template)
    prepared = _prepare(path, f"tiny-{family}")
    manifest = prepared.manifest
    eot = tokenizer.token_to_id(spec.end_of_turn)
    assert manifest.instruct
    assert manifest.stop_strings == [spec.end_of_turn]
    assert manifest.eos_token_ids == [tokenizer.token_to_id(EOS), eot]
    assert (prepared.folder / "chat_template.jinja").read_text(encoding="utf-8") == spec.template

    session = LLMSession(prepared.folder, provider="cpu")
    model = SessionModel(session)
    prompt = model.render(AGENT_CONVERSATION)
    assert prompt.endswith(spec.header)
    assert not prompt.startswith(BOS)  # the tokenizer adds it: never twice
    ids = session.encode(prompt)
    assert ids.count(tokenizer.token_to_id(BOS)) == 1 and ids[0] == tokenizer.token_to_id(BOS)
    assert ChatFormat.load(prepared.folder).count_tokens(AGENT_CONVERSATION) == len(ids)
    # The step grammar may end where the template ends a turn.
    assert eot in model.constraint_tokenizer().eos_token_ids
    assert spec.end_of_turn in model._stops

    text, stops = chat_prompt(session, [{"role": "user", "content": "Hallo, wie geht's?"}])
    assert text.endswith(spec.header) and stops == [spec.end_of_turn]
    finished = session.complete(text, max_new_tokens=3, stop=stops)
    assert finished.stop_reason in ("eos", "stop_string", "max_tokens")


def test_a_gguf_without_a_template_is_a_base_model(
    tokenizer: Any, tmp_path: Path, home: Path
) -> None:
    path = tiny_llama_gguf(tmp_path / "base.gguf", tokenizer, "llama-bpe", None)
    manifest = _prepare(path, "tiny-base").manifest
    assert not manifest.instruct and manifest.stop_strings == ["\nUser:"]
    assert manifest.eos_token_ids == [tokenizer.token_to_id(EOS)]


@pytest.mark.parametrize("in_jinja_file", [False, True], ids=["tokenizer_config", "jinja-file"])
def test_a_hugging_face_folder_keeps_its_template(
    tokenizer: Any, tmp_path: Path, home: Path, in_jinja_file: bool
) -> None:
    spec = FAMILIES["chatml"]
    folder = tiny_llama_folder(tmp_path / "hf", tokenizer, spec.template, in_jinja_file)
    prepared = _prepare(folder, "tiny-chatml-hf")
    assert prepared.manifest.instruct
    assert prepared.manifest.stop_strings == ["<|im_end|>"]
    assert (prepared.folder / "chat_template.jinja").read_text(encoding="utf-8") == spec.template
    chat = ChatFormat.load(prepared.folder)
    assert chat.render(AGENT_CONVERSATION).endswith(spec.header)


def test_a_chat_template_file_wins_over_tokenizer_config(tmp_path: Path) -> None:
    """As transformers reads a folder: chat_template.jinja before tokenizer_config.json."""
    from engine.models.chat_templates import model_template

    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": FAMILIES["phi3"].template}), encoding="utf-8"
    )
    assert model_template(folder) == (FAMILIES["phi3"].template, "tokenizer_config.json")
    (folder / "chat_template.jinja").write_text(FAMILIES["chatml"].template, encoding="utf-8")
    assert model_template(folder) == (FAMILIES["chatml"].template, "chat_template.jinja")
    (folder / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    (folder / "chat_template.jinja").unlink()
    with pytest.raises(ModelError, match=r"tokenizer_config\.json is corrupt"):
        model_template(folder)


def test_a_template_keeps_its_bos_when_the_tokenizer_does_not_add_one(
    tokenizer: Any, tmp_path: Path, home: Path
) -> None:
    from engine.llm.session import LLMSession

    spec = FAMILIES["llama3"]
    folder = tiny_llama_folder(tmp_path / "hf", tokenizer, spec.template, adds_bos=False)
    prepared = _prepare(folder, "tiny-llama3-nobos")
    session = LLMSession(prepared.folder, provider="cpu")
    prompt, _ = chat_prompt(session, AGENT_CONVERSATION)
    assert prompt.startswith(BOS)
    ids = session.encode(prompt)
    assert ids[0] == tokenizer.token_to_id(BOS) and ids.count(ids[0]) == 1


BROKEN = "{% for m in messages %}{{ m.content }}{% endfor %}{{ raise_exception('no tools here') }}"


def test_a_broken_template_is_a_clear_error_with_a_way_out(
    tokenizer: Any, tmp_path: Path, home: Path
) -> None:
    from engine.models.prepare import prepare

    path = tiny_llama_gguf(tmp_path / "broken.gguf", tokenizer, "llama-bpe", BROKEN)
    stages: list[str] = []
    with pytest.raises(ModelError) as caught:
        prepare(str(path), name="tiny-broken", progress=lambda p: stages.append(p.stage))
    assert "export" in stages and "quantize" not in stages  # refused before quantizing
    message = str(caught.value)
    assert "tiny-broken" in message and "no tools here" in message
    assert "--chat-template base" in message
    assert not (home / "models" / "tiny-broken").exists()

    base = _prepare(path, "tiny-broken", chat_template="base").manifest
    assert not base.instruct and base.stop_strings == ["\nUser:"]
    gemma = _prepare(path, "tiny-gemma-format", chat_template="gemma").manifest
    assert gemma.instruct and gemma.stop_strings == ["<end_of_turn>"]
    own = tmp_path / "mine.jinja"
    own.write_text(FAMILIES["phi3"].template, encoding="utf-8")
    mine = _prepare(path, "tiny-mine", chat_template=str(own))
    assert mine.manifest.stop_strings == ["<|end|>"]
    assert ChatFormat.load(mine.folder).render(AGENT_CONVERSATION).endswith("<|assistant|>\n")


def test_another_template_is_another_preparation(
    tokenizer: Any, tmp_path: Path, home: Path
) -> None:
    path = tiny_llama_gguf(tmp_path / "m.gguf", tokenizer, "llama-bpe", FAMILIES["chatml"].template)
    first = _prepare(path, "tiny-m")
    again = _prepare(path, "tiny-m", chat_template="base")
    assert not again.reused and not again.manifest.instruct
    assert first.manifest.cache_key != again.manifest.cache_key


def test_cli_refuses_an_unknown_chat_template_choice(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "main.py",
            "model",
            "prepare",
            "--source",
            str(tmp_path / "any.gguf"),
            "--chat-template",
            "no-such-template",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "AGENT_WORKBENCH_HOME": str(tmp_path / "home")},
        timeout=120,
    )
    assert result.returncode != 0
    assert "--chat-template 'no-such-template'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("family", list(FAMILIES))
def test_an_agent_runs_under_each_template(
    tokenizer: Any, tmp_path: Path, home: Path, family: str
) -> None:
    """The calculator agent on the tiny model of each format, the step grammar on: every
    step's prompt ends with the family's assistant header, observations included, and the
    run ends without an error (the random model's answers do not matter)."""
    from engine.agent import events as ev
    from engine.agent.hooks import RunHooks
    from engine.agent.launch import agent_run, open_model
    from engine.agent.templates import new_agent

    spec = FAMILIES[family]
    path = tiny_llama_gguf(tmp_path / f"{family}.gguf", tokenizer, "llama-bpe", spec.template)
    folder = _prepare(path, f"tiny-{family}").folder
    agent = new_agent("calculator", tmp_path / "calc.agent.yaml")
    model = open_model(agent.spec, name=str(folder))
    prompts: list[str] = []
    render = model.render

    def recording(messages: Any) -> str:
        prompts.append(render(messages))
        return prompts[-1]

    model.render = recording  # type: ignore[method-assign]
    hooks = RunHooks(before_call=lambda request: True)
    with agent_run(agent, "What is 6 * 7?", model, hooks=hooks, transcript=False) as run:
        events = list(run)
    assert not [e for e in events if isinstance(e, ev.RunError)]
    assert isinstance(events[-1], ev.RunFinished)
    assert prompts and all(p.endswith(spec.header) for p in prompts)
    assert all(p.count(spec.header) >= 2 for p in prompts)  # the worked example's turns too
    if any(isinstance(e, ev.ToolResult) for e in events):
        assert any("Observation: " in p or "ipython" in p or "tool_response" in p for p in prompts)
