"""Agent files: load, validate (field, line, what is allowed), round-trip save."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from engine.agent import agentfile
from engine.agent.agentfile import AgentFileError, load, parse, save
from engine.agent.spec import AgentSpec, PlanningSpec
from engine.agent.templates import templates

GOOD = """\
# my agent
schema_version: 1
name: Helper   # shown in the window
goals:
  - Be useful.
tools:
  - name: calculator
    approval: ask
planning:
  strategy: react
  max_steps: 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "a.agent.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_fills_defaults(tmp_path: Path) -> None:
    agent = load(write(tmp_path, GOOD))
    spec = agent.spec
    assert spec.name == "Helper" and spec.goals == ("Be useful.",)
    assert spec.tools[0].name == "calculator" and spec.tools[0].approval == "ask"
    assert spec.planning.max_steps == 5 and spec.planning.max_tokens == 4096
    assert spec.model.name == "default" and spec.model.sampling.temperature == 0
    assert len(agent.sha256) == 64
    assert agent.workspace == (tmp_path / "workspace").resolve()


def test_the_schema_file_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(agentfile.schema())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("planning:\n  strategy: think_hard\n", ["line 10", "planning.strategy", '"react"']),
        ("planning:\n  max_steps: lots\n", ["line 10", "planning.max_steps", "expected integer"]),
        ("color: blue\n", ["line 9", "color", "allowed keys:", "goals"]),
        (
            "tools:\n  - name: calculator\n    approval: maybe\n",
            ["line 11", "tools[0].approval", '"ask"'],
        ),
        (
            "tools:\n  - name: x\n    kind: command\n    command: run.sh\n",
            ["tools[0]", "'description' is a required property"],
        ),
        (
            "mcp_servers:\n  - name: s\n    transport: http\n",
            ["mcp_servers[0]", "'url' is a required property"],
        ),
    ],
)
def test_invalid_files_name_field_line_and_allowed(
    tmp_path: Path, change: str, expected: list[str]
) -> None:
    base = "schema_version: 1\nname: Helper\ngoals:\n  - Be useful.\n"
    text = base + "model:\n  name: default\n  provider: auto\n  max_step_tokens: 64\n" + change
    with pytest.raises(AgentFileError) as info:
        load(write(tmp_path, text))
    message = str(info.value)
    for part in expected:
        assert part in message, message
    assert str(tmp_path / "a.agent.yaml") in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("- a list\n", "expected a mapping"),
        ("schema_version: 9\nname: x\ngoals: [a]\n", "newer than this workbench"),
        ("schema_version: 1\nname: x\n", "'goals' is a required property"),
        ("schema_version: 1\nname: x\ngoals: []\n", "goals: [] should be non-empty"),
        ("schema_version: 1\nname: x\ngoals: [a]\nmodel: {sampling: {top_p: 2}}\n", "top_p"),
    ],
)
def test_bad_documents(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(AgentFileError) as info:
        load(write(tmp_path, text))
    assert expected in str(info.value)


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(AgentFileError, match="cannot read"):
        load(tmp_path / "missing.agent.yaml")
    bad = tmp_path / "bin.agent.yaml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AgentFileError, match="cannot read"):
        load(bad)


def test_save_unchanged_keeps_the_text_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    agent = load(path)
    save(agent.spec, path, agent)
    assert path.read_text(encoding="utf-8") == GOOD


def test_save_applies_changes_and_keeps_comments(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    agent = load(path)
    planning = replace(agent.spec.planning, strategy="reflect", max_steps=7)
    spec = replace(agent.spec, planning=planning, goals=("Be useful.", "Be brief."))
    saved = save(spec, path, agent)
    text = path.read_text(encoding="utf-8")
    assert "# my agent" in text and "# shown in the window" in text
    assert "strategy: reflect" in text and "max_steps: 7" in text and "- Be brief." in text
    assert "max_tokens" not in text  # defaults the person left out stay out
    assert saved.spec == spec and load(path).spec == spec


def test_save_a_new_spec_writes_every_value(tmp_path: Path) -> None:
    spec = AgentSpec(name="New", goals=("g",), planning=PlanningSpec(strategy="plan_execute"))
    path = tmp_path / "sub" / "new.agent.yaml"
    save(spec, path)
    assert load(path).spec == spec
    assert "max_plan_steps: 4" in path.read_text(encoding="utf-8")


def test_an_invalid_save_never_touches_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    agent = load(path)
    broken = replace(agent.spec, planning=replace(agent.spec.planning, max_steps=0))
    with pytest.raises(AgentFileError, match="refusing to save an invalid agent"):
        save(broken, path, agent)
    assert path.read_text(encoding="utf-8") == GOOD
    assert [p.name for p in tmp_path.iterdir()] == ["a.agent.yaml"]  # no temporary left


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, GOOD)
    agent = load(path)

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(agentfile.os, "replace", fail)
    with pytest.raises(AgentFileError, match="disk full"):
        save(replace(agent.spec, name="Other"), path, agent)
    assert path.read_text(encoding="utf-8") == GOOD
    assert [p.name for p in tmp_path.iterdir()] == ["a.agent.yaml"]


def test_parse_without_a_path_and_json_round_trip() -> None:
    agent = parse(GOOD)
    data = agent.spec.to_data()
    assert AgentSpec.from_data(json.loads(json.dumps(data))) == agent.spec


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        ("  - name: calculater\n", ["line 5", "tools[0].name", "no built-in tool 'calculater'"]),
        (
            "  - name: files.read\n    settings:\n      max_bytes: -1\n",
            ["line 7", "tools[0].settings.max_bytes", "minimum"],
        ),
        (
            "  - name: calculator\n    settings:\n      precision: 3\n",
            ["tools[0].settings", "precision"],
        ),
    ],
)
def test_built_in_tools_are_checked_by_name_and_settings(
    tmp_path: Path, tools: str, expected: list[str]
) -> None:
    text = "schema_version: 1\nname: x\ngoals: [a]\ntools:\n" + tools
    with pytest.raises(AgentFileError) as info:
        load(write(tmp_path, text))
    for part in expected:
        assert part in str(info.value), str(info.value)


def test_memory_tool_names_are_accepted_when_memory_is_on(tmp_path: Path) -> None:
    text = "schema_version: 1\nname: x\ngoals: [a]\ntools:\n  - name: memory.search\n"
    on = text + "memory:\n  enabled: true\n"
    assert load(write(tmp_path, on)).spec.tools[0].name == "memory.search"
    with pytest.raises(AgentFileError) as info:  # a run would have no memory tools to give
        load(write(tmp_path, text))
    assert "line 5: tools[0].name: names a memory tool" in str(info.value)
    assert "memory.enabled: true" in str(info.value)


SERVER = "mcp_servers:\n  - name: notes\n    command: [notes-server]\n"


@pytest.mark.parametrize(
    ("tools", "extra", "expected"),
    [
        (
            "  - name: clock\n  - name: calculator\n  - name: clock\n    approval: ask\n",
            "",
            "line 7: tools[2].name: names a tool already in the catalogue (tools[0] 'clock')",
        ),
        (
            "  - name: calculator\n",
            SERVER + "  - name: notes\n    transport: http\n    url: http://h/mcp\n",
            "line 9: mcp_servers[1].name: names a server already listed (mcp_servers[0])",
        ),
        (
            "  - name: notes.add\n    kind: command\n    description: d\n    command: add\n",
            SERVER,
            "line 5: tools[0].name: is in the name space of the MCP server 'notes'",
        ),
        (
            '  - name: w\n    kind: command\n    description: d\n    command: "w \'x"\n',
            "",
            "line 8: tools[0].command: cannot be split into words",
        ),
        (
            "  - name: w\n    kind: command\n    description: d\n    command: w\n"
            "    parameters: {type: object, properties: {a: {type: text}}}\n",
            "",
            "line 9: tools[0].parameters: is not a valid JSON Schema",
        ),
        (
            "  - name: clock\n    settings:\n      timezone: Nowhere/City\n",
            "",
            "line 6: tools[0].settings: unknown time zone 'Nowhere/City'",
        ),
        (
            "  - name: w\n    kind: command\n    description: d\n    command: w\n"
            "    timeout_s: 0\n",
            "",
            "line 9: tools[0].timeout_s: must be a positive number of seconds",
        ),
        (
            "  - name: calculator\n",
            "mcp_servers:\n  - name: notes\n    command: [n]\n    timeout_s: 5\n"
            "    url: http://h\n",
            "line 10: mcp_servers[0].url: unknown key 'url'",
        ),
    ],
    ids=[
        "duplicate tool",
        "duplicate server",
        "server name space",
        "command line",
        "parameters schema",
        "time zone",
        "timeout",
        "server field",
    ],
)
def test_loading_refuses_what_the_catalogue_would_refuse(
    tmp_path: Path, tools: str, extra: str, expected: str
) -> None:
    """Validation is the run's refusal: each of these once loaded and failed only at run."""
    from engine.tools.catalog import build_registry
    from engine.tools.errors import ToolConfigError

    text = "schema_version: 1\nname: x\ngoals: [a]\ntools:\n" + tools + extra
    with pytest.raises(AgentFileError) as info:
        load(write(tmp_path, text))
    assert expected in str(info.value), str(info.value)
    assert str(tmp_path / "a.agent.yaml") in str(info.value)
    data = agentfile.plain(agentfile._yaml().load(text))
    with pytest.raises(ToolConfigError):  # and the catalogue refuses the same entries
        build_registry(data["tools"], data.get("mcp_servers", ()), workspace=tmp_path, trust=True)


def test_memory_settings_default_for_old_files_and_round_trip(tmp_path: Path) -> None:
    old = "schema_version: 1\nname: x\ngoals: [a]\nmemory:\n  enabled: true\n  top_k: 2\n"
    memory = load(write(tmp_path, old)).spec.memory
    assert (memory.enabled, memory.top_k, memory.token_budget, memory.scratchpad) == (
        True,
        2,
        256,
        "drop",
    )
    assert memory.remember == ("history", "tool_results", "reflections", "documents")
    new = old + "  token_budget: 64\n  scratchpad: summarize\n  remember: [history]\n"
    assert load(write(tmp_path, new + "  documents: [notes]\n")).spec.memory.documents == ("notes",)
    spec = load(write(tmp_path, new)).spec
    assert spec.memory.scratchpad == "summarize" and spec.memory.token_budget == 64
    assert spec.to_data()["memory"] == {
        "enabled": True,
        "top_k": 2,
        "token_budget": 64,
        "min_relevance": 0.5,
        "remember": ["history"],
        "scratchpad": "summarize",
    }


def test_a_bad_scratchpad_setting_names_the_field_and_the_choices(tmp_path: Path) -> None:
    text = "schema_version: 1\nname: x\ngoals: [a]\nmemory:\n  scratchpad: forget\n"
    with pytest.raises(AgentFileError) as caught:
        load(write(tmp_path, text))
    message = str(caught.value)
    assert "memory.scratchpad" in message and "line 5" in message and '"summarize"' in message


def test_a_yaml_alias_bomb_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """A "billion laughs" of 10**5 leaves took seconds before it failed the schema (10**6:
    20 s and 800 MB; 10**9: over 19 GB, then killed); the bounded loader stops at the first
    alias over the budget, whatever the depth (engine/test_yamlsafe.py tries 10**9)."""
    lines = ["schema_version: 1", "name: bomb", "x0: &a0 [lol]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 6)]
    path = write(tmp_path, "\n".join([*lines, "goals: *a5", ""]))
    assert path.stat().st_size < 2048
    with pytest.raises(AgentFileError) as info:
        load(path)
    assert str(info.value) == (
        f"{path}, line 7: too many YAML aliases (34 so far, bringing in 10,784 nodes); "
        "agent files may use at most 100 aliases bringing in at most 10,000 nodes: "
        "write the repeated parts out"
    )


def test_an_agent_file_over_1_mb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "# padding\n" * 110_000)
    with pytest.raises(AgentFileError) as info:
        load(path)
    assert str(info.value) == (
        f"cannot read the agent file: {path} is 1.1 MB; agent files may be at most 1.0 MB "
        "(is it the right file?)"
    )


def test_an_error_lists_at_most_20_problems_each_cut_short(tmp_path: Path) -> None:
    many = "schema_version: 1\nname: x\ngoals: [" + ", ".join(["[a, b, c]"] * 200) + "]\n"
    with pytest.raises(AgentFileError) as info:
        load(write(tmp_path, many))
    lines = str(info.value).splitlines()
    assert len(lines) == 21 and lines[-1].endswith(": ... and 180 more problems")
    wide = "schema_version: 1\nname: x\ngoals: [[" + ", ".join(["word"] * 2000) + "]]\n"
    with pytest.raises(AgentFileError) as info:
        load(write(tmp_path, wide))
    assert len(str(info.value)) < 600 and "goals[0]: ['word', 'word'" in str(info.value)


@pytest.mark.parametrize("template", sorted(templates()))
def test_saving_a_template_changes_only_what_was_edited(template: str, tmp_path: Path) -> None:
    """Quoting and long lines stay as the person wrote them: a save after editing the name
    rewrites that line and nothing else (no re-quoted example, no re-folded long line)."""
    source = templates()[template].read_text(encoding="utf-8")
    path = tmp_path / f"{template}.agent.yaml"
    path.write_text(source, encoding="utf-8")
    loaded = load(path)
    save(replace(loaded.spec, name="Renamed agent"), path, loaded)
    saved = path.read_text(encoding="utf-8")
    assert saved.replace("name: Renamed agent", f"name: {loaded.spec.name}", 1) == source
