"""AgentModel: edits as undo commands on plain data, the engine's messages by field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.agent.agentfile import AgentFileError
from engine.agent.templates import TEMPLATES
from gui.agent_model import AgentModel, field_name, get_in, set_in


def test_paths_are_named_like_the_engine_names_fields() -> None:
    assert field_name(("tools", 0, "settings", "max_bytes")) == "tools[0].settings.max_bytes"
    data: dict = {"tools": [{"name": "clock"}]}
    set_in(data, ("tools", 0, "settings", "timezone"), "UTC")
    assert get_in(data, ("tools", 0, "settings", "timezone")) == "UTC"
    set_in(data, ("tools", 0, "settings", "timezone"), None)
    assert data == {"tools": [{"name": "clock"}]}  # no empty `settings: {}` left behind
    assert get_in(data, ("tools", 5, "name"), "none") == "none"


def test_typing_merges_and_undo_restores(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "calc.agent.yaml"
    shutil.copy(TEMPLATES / "calculator.agent.yaml", path)
    model = AgentModel()
    model.open(path)
    name = model.data["name"]
    for text in ("C", "Ca", "Cal"):
        model.set(("name",), text, merge=True)
    model.set(("planning", "max_steps"), 3)
    model.set(("planning", "max_steps"), 3)  # no change: no command
    assert model.undo.count() == 2 and model.dirty
    model.undo.undo()
    model.undo.undo()
    assert model.data["name"] == name and not model.dirty


def test_errors_are_keyed_by_field_and_block_saving(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "calc.agent.yaml"
    shutil.copy(TEMPLATES / "calculator.agent.yaml", path)
    before = path.read_text()
    model = AgentModel()
    model.open(path)
    with qtbot.waitSignal(model.errors_changed) as signal:
        model.set(("tools", 0, "name"), "no_such_tool")
    assert "no built-in tool 'no_such_tool'" in signal.args[0]["tools[0].name"]
    model.set(("model", "sampling", "top_p"), 0)
    assert "model.sampling.top_p" in model.errors
    with pytest.raises(AgentFileError, match="top_p"):
        model.save()
    model.set_local_error("planning.max_steps", "'x' is not a whole number")
    assert model.messages()["planning.max_steps"].startswith("'x'")
    assert path.read_text() == before


def test_a_new_model_has_no_file_and_save_says_use_save_as(qtbot) -> None:
    model = AgentModel()
    with pytest.raises(AgentFileError, match="Save As"):
        model.save()
