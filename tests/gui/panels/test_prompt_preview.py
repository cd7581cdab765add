"""Prompt preview: follows the designer's edits (debounced, in a worker), counts each
section with the prepared model's tokenizer, or says that it estimates."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtGui import QColor
from tokenizers import Tokenizer

from engine.agent.prompt import example_messages
from engine.agent.templates import TEMPLATES
from engine.llm.chat import ChatFormat
from engine.manifest import Manifest
from gui.panels.designer import QtAgentDesigner
from gui.panels.prompt_preview import COLORS, compute


def _designer(ctx, qtbot, tmp_path: Path) -> QtAgentDesigner:
    path = tmp_path / "notes.agent.yaml"
    shutil.copy(TEMPLATES / "research.agent.yaml", path)
    designer = QtAgentDesigner(ctx)
    qtbot.addWidget(designer)
    designer.resize(1200, 700)
    designer.show()
    assert designer.open_file(path)
    return designer


def _shown(spec):
    """The worked examples a run on an empty task shows (planning.examples: similar)."""
    from engine.agent.shots import chosen

    return chosen(spec.examples, "", spec.planning.examples, spec.planning.max_examples)


def _wait_for(qtbot, designer: QtAgentDesigner, check) -> None:
    qtbot.waitUntil(lambda: designer.preview.result is not None and check(designer.preview.result))


def test_preview_counts_sections_with_the_models_tokenizer(ctx, qtbot, tmp_path, tiny_models):
    designer = _designer(ctx, qtbot, tmp_path)
    names = designer.pages.model_name.combo
    assert "tiny-int4" in [names.itemText(i) for i in range(names.count())]
    names.setCurrentText("tiny-int4")
    _wait_for(qtbot, designer, lambda r: r.tokenizer == "tiny-int4 tokenizer and chat format")
    folder = tiny_models / "models" / "tiny-int4"
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    preview = designer.preview.result.preview
    assert preview.context_length == Manifest.read(folder).context_length
    assert not preview.estimated
    for section in preview.sections:
        expected = len(tokenizer.encode(section.text, add_special_tokens=False).ids)
        assert section.tokens == (expected if section.text else 0), section.name
    # The total is the first step's prompt in the model's format, for an empty task.
    opening = [
        {"role": "system", "content": preview.text},
        *example_messages(_shown(designer.model.spec()), "Final Answer"),
        {"role": "user", "content": ""},
    ]
    assert preview.total_tokens == ChatFormat.load(folder).count_tokens(opening)
    assert preview.format_tokens > 0
    tokens = designer.preview.section_tokens()
    assert tokens["goals"] > 0 and tokens["tools"] > 0 and tokens["examples"] > 0
    assert "tiny-int4 tokenizer and chat format" in designer.preview.legend.text()
    assert f"of context {preview.context_length:,}" in designer.preview.legend.text()
    # a longer goal: the preview follows, and only the goals section grows
    before = dict(tokens)
    designer.goals.add_goal()
    designer.goals.list.item(2).setText("Quote the line number of every note used in the answer.")
    _wait_for(qtbot, designer, lambda r: "Quote the line number" in r.preview.text)
    after = designer.preview.section_tokens()
    assert after["goals"] > before["goals"]
    assert {k: v for k, v in after.items() if k != "goals"} == {
        k: v for k, v in before.items() if k != "goals"
    }
    # the bar draws each section in its colour
    image = designer.preview.bar.grab().toImage()
    seen = {image.pixelColor(x, image.height() // 2).name() for x in range(image.width())}
    assert QColor(COLORS["goals"]).name() in seen and QColor(COLORS["tools"]).name() in seen


def test_preview_estimates_without_a_prepared_model_and_debounces(ctx, qtbot, tmp_path):
    designer = _designer(ctx, qtbot, tmp_path)
    _wait_for(qtbot, designer, lambda r: r.preview.estimated)
    assert "estimate" in designer.preview.legend.text()
    assert designer.preview.result.preview.context_length is None
    serial = designer.preview._serial
    for word in ("Cabin", "Cabin notes", "Cabin notes assistant"):
        designer.model.set(("name",), word, merge=True)
    _wait_for(qtbot, designer, lambda r: "Cabin notes assistant" in r.preview.text)
    assert designer.preview._serial == serial + 1  # three quick edits, one computation


def test_an_invalid_agent_keeps_the_last_valid_preview(ctx, qtbot, tmp_path):
    designer = _designer(ctx, qtbot, tmp_path)
    _wait_for(qtbot, designer, lambda r: "Notes assistant" in r.preview.text)
    serial = designer.preview._serial
    designer.model.set(("planning", "max_steps"), 0)
    qtbot.wait(400)
    assert designer.preview._serial == serial and "planning.max_steps" in designer.problems.text()


def test_preview_shows_what_the_grammar_enforces(ctx, qtbot, tmp_path):
    designer = _designer(ctx, qtbot, tmp_path)
    _wait_for(qtbot, designer, lambda r: bool(r.preview.enforced))
    assert "quotes a value the tools returned" in designer.preview.enforced.text()
    designer.model.set(("planning", "answer"), "free")
    _wait_for(qtbot, designer, lambda r: not any("quotes" in x for x in r.preview.enforced))
    assert "quotes a value" not in designer.preview.enforced.text()


def test_a_failing_chat_template_still_counts_the_sections(tmp_path, tiny_int4):
    """A prepared folder whose template fails (edited after preparing): the sections are
    counted with the tokenizer and the legend says why the chat format is left out."""
    from dataclasses import replace

    from engine.agent.agentfile import load

    folder = tmp_path / "edited"
    shutil.copytree(tiny_int4, folder)
    (folder / "chat_template.jinja").write_text("{{ raise_exception('edited by hand') }}")
    spec = load(TEMPLATES / "research.agent.yaml").spec
    spec = replace(spec, model=replace(spec.model, name=str(folder)))
    result = compute(spec, None)
    assert not result.preview.estimated and result.preview.format_tokens == 0
    assert "its chat template failed" in result.tokenizer and "edited by hand" in result.tokenizer
