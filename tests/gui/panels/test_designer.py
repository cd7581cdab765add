"""Agent designer: editing every field kind, saving through the engine (comments kept),
validation marks, undo/redo, the unsaved-changes prompt, and opening a bad file."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox

from engine.agent import agentfile
from engine.agent.templates import TEMPLATES
from gui.panels.designer import QtAgentDesigner
from gui.widgets.fields import Field
from tests.helpers.file_dialogs import answer, cancel

Answer = QMessageBox.StandardButton


@pytest.fixture
def agent_path(tmp_path: Path) -> Path:
    path = tmp_path / "notes.agent.yaml"
    shutil.copy(TEMPLATES / "research.agent.yaml", path)
    return path


@pytest.fixture
def designer(ctx, qtbot, agent_path: Path) -> QtAgentDesigner:
    widget = QtAgentDesigner(ctx)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    assert widget.open_file(agent_path)
    return widget


def field(designer: QtAgentDesigner, name: str) -> Field:
    found = [f for f in designer.all_fields() if f.name == name]
    assert found, f"no field {name}"
    return found[0]


def _diff(a: dict, b: dict) -> dict:
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}


def type_into(qtbot, f: Field, text: str) -> None:
    edit = getattr(f, "edit", None)
    assert isinstance(edit, QLineEdit), f"{f.name} is not typed into"
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def test_edit_and_save_keeps_comments_and_order(designer, qtbot, agent_path: Path) -> None:
    before = agent_path.read_text()
    type_into(qtbot, field(designer, "name"), "Cabin notes")
    assert designer.model.dirty and designer.title.text().endswith("*")
    with qtbot.waitSignal(designer.ctx.agents.opened) as opened:
        assert designer.save()
    assert opened.args == [agent_path]
    text = agent_path.read_text()
    assert "name: Cabin notes" in text
    for comment in ("# Notes assistant: answers questions", "# the folder of documents"):
        assert comment in before and comment in text
    assert text.replace("Cabin notes", "Notes assistant") == before  # only the name changed
    assert not designer.model.dirty
    assert designer.ctx.recent_agents.items()[0] == agent_path.resolve()


def test_every_field_kind_reaches_the_file(designer, qtbot, agent_path: Path) -> None:
    m = designer.model
    type_into(qtbot, field(designer, "description"), "reads cabin notes")
    type_into(qtbot, field(designer, "planning.max_steps"), "7")
    type_into(qtbot, field(designer, "planning.max_seconds"), "90.5")
    type_into(qtbot, field(designer, "model.sampling.seed"), "42")
    field(designer, "planning.strategy").combo.setCurrentText("reflect")
    field(designer, "planning.thoughts").box.click()
    field(designer, "planning.answer").combo.setCurrentText("free")
    type_into(qtbot, field(designer, "planning.retries_after_error"), "1")
    field(designer, "memory.enabled").box.click()
    had_tool_results = field(designer, "memory.remember").boxes["tool_results"].isChecked()
    field(designer, "memory.remember").boxes["tool_results"].click()
    type_into(qtbot, field(designer, "memory.token_budget"), "300")
    type_into(qtbot, field(designer, "memory.min_relevance"), "0.4")
    field(designer, "memory.scratchpad").combo.setCurrentText("summarize")
    field(designer, "model.provider").combo.setCurrentText("cpu")
    persona = designer.persona
    persona.edit.selectAll()
    persona._bold()
    # a built-in's settings form (generated from its settings schema) and its approval
    designer.tools.list.setCurrentRow(1)  # files.read
    type_into(qtbot, field(designer, "tools[1].settings.max_bytes"), "5000")
    field(designer, "tools[1].approval").combo.setCurrentIndex(2)
    # a command tool with its parameters' JSON Schema, and an MCP server
    designer.tools.append(dict(designer.tools.entries()[0], name="x"), "tmp")
    m.undo.undo()
    from gui.panels.designer_tools import NEW_COMMAND, NEW_SERVER

    designer.tools.append(NEW_COMMAND, "add command tool")
    params = field(designer, "tools[3].parameters")
    params.edit.setPlainText('{"type": "object", "properties": {"q": {"type": "string"}}}')
    designer.servers.append(NEW_SERVER, "add MCP server")
    field(designer, "mcp_servers[0].transport").combo.setCurrentText("http")
    type_into(qtbot, field(designer, "mcp_servers[0].url"), "http://localhost:9000/mcp")
    field(designer, "mcp_servers[0].command").edit.clear()
    field(designer, "mcp_servers[0].command")._edited("")
    m.set(("mcp_servers", 0, "command"), None)
    examples = field(designer, "examples")
    examples.edit.setPlainText('[{"task": "t", "answer": "a"}]')
    assert m.messages() == {}, m.messages()
    assert designer.save()
    spec = agentfile.load(agent_path).spec
    assert spec.description == "reads cabin notes"
    assert (spec.planning.max_steps, spec.planning.max_seconds) == (7, 90.5)
    assert spec.planning.strategy == "reflect" and spec.planning.thoughts is False
    assert (spec.planning.answer, spec.planning.retries_after_error) == ("free", 1)
    assert spec.memory.enabled and ("tool_results" in spec.memory.remember) != had_tool_results
    assert (spec.memory.token_budget, spec.memory.min_relevance) == (300, 0.4)
    assert spec.memory.scratchpad == "summarize"
    assert spec.model.provider == "cpu" and spec.model.sampling.seed == 42
    assert spec.persona.startswith("**") and "Quotes the notes" in spec.persona
    read = spec.tools[1]
    assert read.settings == {"max_bytes": 5000} and read.approval == "ask"
    command = spec.tools[3]
    assert command.kind == "command" and command.parameters["properties"] == {
        "q": {"type": "string"}
    }
    assert spec.mcp_servers[0] == {
        "name": "server",
        "transport": "http",
        "url": "http://localhost:9000/mcp",
    }
    assert [e.task for e in spec.examples] == ["t"]
    assert "# Notes assistant" in agent_path.read_text()


def test_invalid_values_are_marked_with_the_validators_message(designer, qtbot, agent_path) -> None:
    before = agent_path.read_text()
    steps = field(designer, "planning.max_steps")
    type_into(qtbot, steps, "0")
    assert steps.widget.property("invalid") is True
    assert "minimum of 1" in steps.widget.toolTip()
    assert "planning.max_steps" in designer.problems.text()
    type_into(qtbot, steps, "abc")
    assert "'abc' is not a whole number" in steps.widget.toolTip()
    name = field(designer, "name")
    name.edit.clear()
    qtbot.keyClicks(name.edit, "x")
    qtbot.keyClick(name.edit, Qt.Key.Key_Backspace)
    assert (
        name.widget.property("invalid") is True and "should be non-empty" in name.widget.toolTip()
    )
    # a bad built-in setting is marked in the generated form, and its tool in the list
    designer.tools.list.setCurrentRow(1)
    size = field(designer, "tools[1].settings.max_bytes")
    type_into(qtbot, size, "0")
    assert "minimum of 1" in size.widget.toolTip()
    assert designer.tools.list.item(1).toolTip()
    assert not designer.save()  # refused; the file is untouched
    assert agent_path.read_text() == before
    type_into(qtbot, steps, "5")
    type_into(qtbot, size, "10")
    type_into(qtbot, name, "ok")
    assert steps.widget.property("invalid") is False and designer.model.messages() == {}


def test_json_schema_editor_marks_invalid_schemas(designer) -> None:
    from gui.panels.designer_tools import NEW_COMMAND

    designer.tools.append(NEW_COMMAND, "add command tool")
    params = field(designer, "tools[3].parameters")
    edit = params.edit
    edit.setPlainText('{"type": "object", "properties": {')
    assert "not JSON" in params.status.text()
    assert edit.property("invalid") is True
    edit.setPlainText('{"type": "nonsense"}')
    assert "not a valid JSON Schema" in params.status.text()
    assert designer.model.data["tools"][3]["parameters"] == NEW_COMMAND["parameters"]
    assert not designer.save()
    edit.setPlainText('{"type": "object", "properties": {"n": {"type": "integer"}}}')
    assert params.status.text() == "valid JSON Schema"
    assert edit.property("invalid") is False
    assert designer.model.data["tools"][3]["parameters"]["properties"]["n"] == {"type": "integer"}
    # removing a tool whose editor holds bad text takes its mark along
    field(designer, "tools[3].parameters").edit.setPlainText("{")
    assert "tools[3].parameters" in designer.model.messages()
    designer.tools.remove_selected()
    assert designer.model.messages() == {} and designer.problems.text() == ""
    assert designer.save()


def test_undo_redo_of_each_edit_kind(designer, qtbot) -> None:
    from gui.panels.designer_tools import NEW_COMMAND, NEW_SERVER

    m = designer.model
    stack = m.undo
    start = stack.count()
    name = field(designer, "name")
    type_into(qtbot, name, "Cabin")
    assert stack.count() == start + 1  # typing merges into one command
    edits = [
        lambda: field(designer, "planning.strategy").combo.setCurrentText("reflect"),
        lambda: field(designer, "memory.enabled").box.click(),
        lambda: type_into(qtbot, field(designer, "planning.max_tokens"), "999"),
        lambda: field(designer, "planning.answer").combo.setCurrentText("free"),
        lambda: type_into(qtbot, field(designer, "planning.retries_after_error"), "3"),
        lambda: designer.goals.move(1) if designer.goals.list.setCurrentRow(0) is None else None,
        designer.goals.add_goal,
        lambda: designer.tools.append({"name": "clock"}, "add clock"),
        lambda: designer.persona.edit.setPlainText("Terse."),
        lambda: field(designer, "memory.remember").boxes["tool_results"].click(),
        lambda: (
            designer.tools.list.setCurrentRow(0)
            or type_into(qtbot, field(designer, "tools[0].settings.max_results"), "7")
        ),
        lambda: field(designer, "tools[0].approval").combo.setCurrentIndex(3),
        lambda: designer.tools.append(NEW_COMMAND, "add command tool"),
        lambda: (
            designer.tools.list.setCurrentRow(4)
            or field(designer, "tools[4].parameters").edit.setPlainText('{"type": "object"}')
        ),
        lambda: designer.servers.append(NEW_SERVER, "add MCP server"),
        lambda: (
            designer.servers.list.setCurrentRow(0)
            or type_into(qtbot, field(designer, "mcp_servers[0].name"), "hub")
        ),
        lambda: field(designer, "examples").edit.setPlainText("[]"),
    ]
    for edit in edits:
        before = copy.deepcopy(m.data)
        before_json = repr(m.data)
        edit()
        after_json = repr(m.data)
        assert after_json != before_json
        stack.undo()
        assert repr(m.data) == before_json, (edits.index(edit), _diff(before, m.data))
        stack.redo()
        assert repr(m.data) == after_json
    # keyboard: Ctrl+Z in a line edit goes to the designer's stack, Ctrl+Shift+Z redoes
    while stack.canUndo():
        stack.undo()
    assert m.data["name"] == "Notes assistant" and not m.dirty
    assert name.edit.text() == "Notes assistant"
    type_into(qtbot, name, "Keys")
    qtbot.keyClick(name.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert m.data["name"] == "Notes assistant"
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(name.edit, Qt.Key.Key_Z, mods)
    assert m.data["name"] == "Keys" and name.edit.text() == "Keys"
    # the rich text editor too
    designer.persona.edit.setFocus()
    qtbot.keyClicks(designer.persona.edit, "Hm. ")
    assert m.data["persona"].startswith("Hm. ")
    qtbot.keyClick(designer.persona.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert m.data["persona"].startswith("Quotes the notes")
    assert designer.persona.edit.toPlainText().startswith("Quotes the notes")


def test_goals_reorder_by_drag_is_one_undoable_edit(designer) -> None:
    goals = designer.goals
    goals.add_goal()
    first = list(designer.model.data["goals"])
    count = designer.model.undo.count()
    # what an internal drag does to the list's model: move row 0 below row 2
    assert goals.list.model().moveRow(QModelIndex(), 0, QModelIndex(), 3)
    assert designer.model.data["goals"] == [first[1], first[2], first[0]]
    assert goals.texts() == designer.model.data["goals"]
    assert designer.model.undo.count() == count + 1
    designer.model.undo.undo()
    assert designer.model.data["goals"] == first and goals.texts() == first
    goals.list.setCurrentRow(2)
    goals.remove_goal()
    assert designer.model.data["goals"] == first[:2]
    goals.list.item(0).setText("Look up one word.")
    assert designer.model.data["goals"][0] == "Look up one word."


@pytest.mark.parametrize("answer", [Answer.Cancel, Answer.Discard, Answer.Save])
def test_unsaved_changes_prompt(designer, qtbot, monkeypatch, tmp_path, agent_path, answer):
    asked: list[str] = []

    def question(*args: object, **kwargs: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    other = tmp_path / "other.agent.yaml"
    shutil.copy(TEMPLATES / "calculator.agent.yaml", other)
    type_into(qtbot, field(designer, "name"), "Edited")
    opened = designer.open_file(other)
    assert asked and "unsaved changes" in asked[0]
    if answer == Answer.Cancel:
        assert not opened and designer.model.path == agent_path and designer.model.dirty
        assert designer.model.data["name"] == "Edited"
    else:
        assert opened and designer.model.path == other and not designer.model.dirty
    saved_name = agentfile.load(agent_path).spec.name
    assert saved_name == ("Edited" if answer == Answer.Save else "Notes assistant")


def test_window_close_asks_about_unsaved_changes(window, qtbot, monkeypatch, agent_path) -> None:
    designer = window.panels["designer"]
    assert designer.open_file(agent_path)
    designer.model.set(("name",), "Changed")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: Answer.Cancel)
    assert not window.close()
    assert window.isVisible()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: Answer.Discard)
    assert window.close()


def test_open_of_an_invalid_file_shows_the_error_and_keeps_the_file(designer, tmp_path) -> None:
    bad = tmp_path / "bad.agent.yaml"
    text = (TEMPLATES / "research.agent.yaml").read_text().replace("max_steps: 4", "max_steps: 0")
    bad.write_text(text)
    messages: list[object] = []
    from gui.bridge import message_bridge

    message_bridge().message.connect(messages.append)
    assert not designer.open_file(bad)
    assert "planning.max_steps" in designer.problems.text()
    assert "line" in designer.problems.text() and "minimum of 1" in designer.problems.text()
    assert any(getattr(m, "level", "") == "error" for m in messages)
    assert bad.read_text() == text  # nothing lost
    assert designer.model.path is not None and designer.model.path.name == "notes.agent.yaml"
    garbage = tmp_path / "garbage.agent.yaml"
    garbage.write_text("name: [unclosed\n")
    assert not designer.open_file(garbage)
    assert "not valid YAML" in designer.problems.text()
    assert garbage.read_text() == "name: [unclosed\n"


def test_new_from_a_template_and_save_as(ctx, qtbot, tmp_path) -> None:
    designer = QtAgentDesigner(ctx)
    qtbot.addWidget(designer)
    assert not designer.pages.isEnabled()
    target = tmp_path / "mine"
    with qtbot.waitSignal(ctx.agents.opened) as opened:
        assert designer.new_from_template("calculator", target)
    created = tmp_path / "mine.agent.yaml"
    assert opened.args == [created] and created.is_file() and designer.pages.isEnabled()
    assert designer.model.data["name"] == agentfile.load(created).spec.name
    copy = tmp_path / "copy.agent.yaml"
    with qtbot.waitSignal(ctx.agents.opened) as opened:
        assert designer.save_as(copy)
    assert opened.args == [copy] and designer.model.path == copy
    assert agentfile.load(copy).spec == agentfile.load(created).spec
    assert not designer.new_from_template("calculator", created)  # never over a file


def test_persona_rich_text_and_markdown_source(designer, qtbot) -> None:
    persona = designer.persona
    long = "Speaks plainly and briefly, " * 6
    persona.markdown.setChecked(True)
    assert persona.stack.currentWidget() is persona.source
    persona.source.setPlainText(f"{long.strip()}\n\n- cites the file\n- never guesses")
    assert designer.model.data["persona"] == persona.source.toPlainText()
    assert "never guesses" in persona.edit.toPlainText()  # the rich view follows
    persona.markdown.setChecked(False)
    cursor = persona.edit.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    persona.edit.setTextCursor(cursor)
    qtbot.keyClicks(persona.edit, " now")
    text = designer.model.data["persona"]
    # Qt's writer wraps at 80 columns; the stored Markdown keeps the person's lines
    assert text.split("\n")[0] == long.strip()
    assert text.endswith("- never guesses now")
    assert designer.save()
    spec = agentfile.load(designer.model.path).spec
    assert spec.persona == text


def test_the_edited_agent_reaches_ctx_agents_edited(designer, qtbot) -> None:
    with qtbot.waitSignal(designer.ctx.agents.edited) as edited:
        designer.model.set(("planning", "max_steps"), 9)
    assert edited.args[0].planning.max_steps == 9 and designer.model.dirty
    seen: list[object] = []
    designer.ctx.agents.edited.connect(seen.append)
    designer.model.set(("planning", "max_steps"), 0)  # invalid: nothing is sent
    assert seen == []


def test_a_failed_save_is_reported_and_loses_nothing(designer, qtbot, tmp_path, agent_path):
    before = agent_path.read_text()
    designer.model.set(("name",), "Elsewhere")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    messages: list[object] = []
    from gui.bridge import message_bridge

    message_bridge().message.connect(messages.append)
    assert not designer.save_as(blocker / "agent.agent.yaml")
    assert any("not saved" in getattr(m, "text", "") for m in messages)
    assert designer.model.dirty and designer.model.path == agent_path
    assert agent_path.read_text() == before and designer.model.data["name"] == "Elsewhere"


def test_the_last_agent_opens_again_at_start(ctx, qtbot, agent_path) -> None:
    ctx.recent_agents.add(agent_path)
    with qtbot.waitSignal(ctx.agents.opened) as opened:
        designer = QtAgentDesigner(ctx)
        qtbot.addWidget(designer)
    assert opened.args == [agent_path.resolve()]
    assert designer.model.data["name"] == "Notes assistant" and designer.pages.isEnabled()
    agent_path.write_text("name: [broken\n")  # next start: skipped quietly, nothing lost
    later = QtAgentDesigner(ctx)
    qtbot.addWidget(later)
    qtbot.wait(50)
    assert later.model.path is None and agent_path.read_text() == "name: [broken\n"


def test_open_dialog_opens_the_chosen_file_and_cancel_keeps_the_open_one(
    designer, monkeypatch, tmp_path, agent_path
) -> None:
    other = tmp_path / "calc.agent.yaml"
    shutil.copy(TEMPLATES / "calculator.agent.yaml", other)
    calls = cancel(monkeypatch, "getOpenFileName")
    designer.choose_open()
    assert calls[0][2] == str(agent_path.parent) and calls[0][3] == "Agents (*.agent.yaml)"
    assert designer.model.path == agent_path and not designer.model.dirty
    answer(monkeypatch, "getOpenFileName", (str(other), "Agents (*.agent.yaml)"))
    designer.choose_open()
    assert designer.model.path == other
    assert designer.model.data["name"] == agentfile.load(other).spec.name


def test_new_dialog_creates_the_chosen_file_and_cancel_creates_nothing(
    ctx, qtbot, monkeypatch, tmp_path
) -> None:
    from engine import paths

    designer = QtAgentDesigner(ctx)
    qtbot.addWidget(designer)
    calls = cancel(monkeypatch, "getSaveFileName")
    assert not designer.new_from_template("calculator")
    assert calls[0][2] == str(paths.agents_dir() / "calculator.agent.yaml")
    assert designer.model.path is None and list(tmp_path.rglob("*.agent.yaml")) == []
    answer(monkeypatch, "getSaveFileName", (str(tmp_path / "sums"), ""))
    assert designer.new_from_template("calculator")
    created = tmp_path / "sums.agent.yaml"
    assert designer.model.path == created and created.is_file()
    assert agentfile.load(created).spec.name == designer.model.data["name"]


def test_save_as_dialog_writes_the_chosen_file_and_cancel_writes_nothing(
    designer, monkeypatch, tmp_path, agent_path
) -> None:
    before = agent_path.read_text()
    designer.model.set(("name",), "Renamed")
    calls = cancel(monkeypatch, "getSaveFileName")
    assert not designer.save_as()
    assert calls[0][2] == str(agent_path) and designer.model.dirty
    assert agent_path.read_text() == before and designer.model.path == agent_path
    copy = tmp_path / "copy.agent.yaml"
    answer(monkeypatch, "getSaveFileName", (str(copy), ""))
    assert designer.save_as()
    assert designer.model.path == copy and not designer.model.dirty
    assert agentfile.load(copy).spec.name == "Renamed" and agent_path.read_text() == before


def test_a_problem_quoting_markup_is_shown_as_text(designer, tmp_path) -> None:
    """Problems quote what the file says; before, the label drew a quoted `<img>`."""
    from PySide6.QtCore import Qt

    bad = tmp_path / "markup.agent.yaml"
    bad.write_text('schema_version: 1\nname: x\ngoals: [[ "<b>bold</b><img src=x>" ]]\n')
    assert not designer.open_file(bad)
    assert designer.problems.textFormat() == Qt.TextFormat.PlainText
    assert "<b>bold</b><img src=x>" in designer.problems.text()
