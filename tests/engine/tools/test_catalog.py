"""Building an agent's catalogue from its entries, and the errors that name the field."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine.errors import WorkbenchError
from engine.tools.base import Tool, ToolCallRequest, ToolContext
from engine.tools.catalog import BUILTINS, RESERVED_NAMES, build_registry
from engine.tools.errors import (
    ToolConfigError,
    ToolSettingsError,
    UnknownToolError,
    UntrustedToolsError,
)


def test_builtins_describe_themselves() -> None:
    assert {"calculator", "clock"} <= set(BUILTINS)
    for name, spec in BUILTINS.items():
        info = spec.info()
        assert info["name"] == name and info["description"]
        assert info["settings"]["type"] == "object"
        assert info["approval"] in ("auto", "ask", "deny")
    assert not set(RESERVED_NAMES) & set(BUILTINS)


def test_builtin_entries(workspace: Path, ctx: ToolContext) -> None:
    entries = [
        {"name": "calculator"},
        {"name": "clock", "approval": "ask", "settings": {"timezone": "UTC"}},
    ]
    with build_registry(entries, workspace=workspace) as registry:
        assert registry.names == ["calculator", "clock"]
        assert registry.call("calculator", {"expression": "6*7"}, context=ctx).output == "42"
        assert registry.get("clock").approval == "ask"  # type: ignore[union-attr]
        asked = registry.call("clock", {}, context=ctx, before_call=lambda r: True)
        assert asked.ok and asked.data["timezone"] == "UTC"


def search(query: str) -> str:
    """Search long-term memory."""
    return f"nothing about {query}"


def test_extra_tools_join_and_duplicates_are_refused(workspace: Path, ctx: ToolContext) -> None:
    memory = Tool.from_function(search, name="memory.search")
    with build_registry([{"name": "calculator"}], workspace=workspace, extra=[memory]) as reg:
        assert reg.call("memory.search", {"query": "cats"}, context=ctx).output.endswith("cats")
    with pytest.raises(ToolConfigError, match="already in the catalogue"):
        build_registry([{"name": "clock"}, {"name": "clock"}], workspace=workspace)


@pytest.mark.parametrize(
    ("entries", "error", "message"),
    [
        ([{"name": "calculater"}], UnknownToolError, r"tools\[0\] 'calculater': field 'name'.*"),
        ([{"name": "clock", "settings": {"zone": "UTC"}}], ToolSettingsError, "settings"),
        (
            [{"name": "clock", "settings": {"timezone": "Nowhere/City"}}],
            ToolSettingsError,
            r"tools\[0\] 'clock': field 'settings': unknown time zone",
        ),
        ([{"name": "clock", "settings": {"timezone": 5}}], ToolSettingsError, "timezone"),
        ([{"name": "clock", "approval": "maybe"}], ToolSettingsError, "field 'approval'"),
        ([{"name": "clock", "timezone": "UTC"}], ToolSettingsError, "unknown field 'timezone'"),
        ([{"name": "clock", "kind": "plugin"}], ToolSettingsError, "field 'kind'"),
        ([{"approval": "auto"}], ToolConfigError, r"tools\[0\]: field 'name'"),
        (["calculator"], ToolConfigError, "must be a mapping"),
    ],
)
def test_bad_entries_name_entry_and_field(
    workspace: Path, entries: list, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        build_registry(entries, workspace=workspace)
    assert isinstance(caught.value, WorkbenchError)


def test_command_tools_and_mcp_servers_need_trust(workspace: Path) -> None:
    command = {
        "name": "weather",
        "kind": "command",
        "description": "Weather",
        "command": [sys.executable, "-c", "print(1)"],
    }
    stdio = {"name": "notes", "transport": "stdio", "command": ["notes-server"]}
    web = {"name": "web", "transport": "http", "url": "http://127.0.0.1:9/mcp"}
    with pytest.raises(UntrustedToolsError) as caught:
        build_registry([{"name": "calculator"}, command], [stdio, web], workspace=workspace)
    text = str(caught.value)
    assert text.startswith("this agent file runs programs or connects to servers")
    assert "\n  - command tool weather runs `" in text
    assert "\n  - MCP server notes (stdio) runs `notes-server`" in text
    assert "\n  - MCP server web (http) connects to http://127.0.0.1:9/mcp" in text
    assert "run it with --trust if you trust the file" in text
    assert [i.kind for i in caught.value.items] == ["command", "mcp", "mcp"]
    with build_registry([command], workspace=workspace, trust=True) as registry:
        assert registry.get("weather").approval == "ask"  # type: ignore[union-attr]


def test_trust_items_are_what_reaches_beyond_the_workspace() -> None:
    from engine.tools.entries import trust_items

    tools = [
        {"name": "calculator"},
        {"name": "files.read", "approval": "auto"},  # stays in the workspace
        {"name": "files.write"},  # asks by default
        {"name": "sh", "kind": "command", "description": "d", "command": ["ls", "-l"]},
        {"name": "python", "approval": "auto", "settings": {"network": True}},
        {"name": "http.get", "settings": {"allow_hosts": ["example.com", "*.example.org"]}},
    ]
    servers = [
        {"name": "notes", "command": ["node", "notes.js"]},  # stdio by default
        {"name": "web", "transport": "http", "url": "https://h/mcp"},
    ]
    found = trust_items(tools, servers)
    assert [i.text for i in found] == [
        "command tool sh runs `ls -l`",
        "MCP server notes (stdio) runs `node notes.js`",
        "MCP server web (http) connects to https://h/mcp",
        "python may run code without asking (approval: auto)",
        "python may use the network (network: true)",
        "http.get may fetch from example.com, *.example.org",
    ]
    assert {i.kind for i in found} == {"command", "mcp", "approval", "network", "hosts"}
    written = [{"name": "files.write", "approval": "auto"}]
    assert [i.text for i in trust_items(written)] == [
        "files.write may write files without asking (approval: auto)"
    ]
    denied = [{"name": "python", "approval": "deny", "settings": {"network": True}}]
    assert trust_items(denied) == []  # a denied tool never runs
    assert trust_items([{"name": "calculator"}, {"name": "python"}, {"name": "clock"}]) == []


def test_before_call_sees_each_policy(workspace: Path, ctx: ToolContext) -> None:
    seen: list[str] = []

    def hook(request: ToolCallRequest) -> bool | str:
        seen.append(request.tool.name)
        return "not today" if request.tool.name == "clock" else True

    entries = [
        {"name": "calculator", "approval": "auto"},
        {"name": "clock", "approval": "ask"},
    ]
    with build_registry(entries, workspace=workspace) as registry:
        assert registry.call("calculator", {"expression": "1"}, context=ctx, before_call=hook).ok
        refused = registry.call("clock", {}, context=ctx, before_call=hook)
        assert refused.error_kind == "refused" and "not today" in refused.output
    assert seen == ["clock"]  # auto tools never ask
    with build_registry([{"name": "calculator", "approval": "deny"}], workspace=workspace) as reg:
        denied = reg.call("calculator", {"expression": "1"}, context=ctx, before_call=hook)
        assert denied.error_kind == "refused" and reg.callable_tools() == []
    assert seen == ["clock"]


def test_close_runs_every_closer_once(workspace: Path) -> None:
    calls: list[str] = []
    registry = build_registry([], workspace=workspace)
    registry.on_close(lambda: calls.append("a"))
    registry.on_close(lambda: calls.append("b"))
    with registry:
        pass
    registry.close()
    assert calls == ["b", "a"]


def test_one_definition_of_an_entry_with_each_tools_settings() -> None:
    import jsonschema

    from engine.tools.entries import definitions, problems

    good_tools = [
        {"name": "calculator"},
        {"name": "python", "approval": "ask", "settings": {"timeout_s": 5, "scratch": "temp"}},
        {"name": "http.get", "settings": {"allow_hosts": ["example.com"]}},
        {"name": "w", "kind": "command", "description": "d", "command": ["w"], "timeout_s": 3},
        {"name": "memory.search", "approval": "ask"},
    ]
    bad_tools = [
        {"name": "calculater"},
        {"name": "clock", "settings": {"zone": "UTC"}},
        {"name": "http.get", "settings": {"allow_hosts": "example.com"}},
        {"name": "clock", "approval": "maybe"},
        {"name": "w", "kind": "command", "command": ["w"]},
        {"name": "memory.save", "settings": {}},
    ]
    assert problems(good_tools) == []
    for bad in bad_tools:
        assert problems([bad]), bad
    assert problems([], [{"name": "notes", "command": ["notes"], "env": {"A": "b"}}]) == []
    assert problems([], [{"name": "r", "transport": "http", "url": "http://h/mcp"}]) == []
    assert problems([], [{"name": "my.notes", "command": ["n"]}])
    assert problems([], [{"name": "r", "transport": "http", "url": "ftp://h"}])
    # the same $defs go into the agent file's schema: a valid schema an editor can use
    schema = {"$defs": definitions(), "$ref": "#/$defs/tool"}
    jsonschema.Draft202012Validator.check_schema(schema)
    editor = jsonschema.Draft202012Validator(schema)
    assert all(editor.is_valid(t) for t in good_tools)
    assert not any(editor.is_valid(t) for t in bad_tools)


def test_memory_tools_listed_in_the_file_come_from_extra(workspace: Path, ctx: ToolContext) -> None:
    memory = Tool.from_function(search, name="memory.search")
    entries = [{"name": "memory.search", "approval": "ask"}, {"name": "calculator"}]
    with build_registry(entries, workspace=workspace, extra=[memory]) as registry:
        assert registry.names == ["memory.search", "calculator"]
        assert registry.get("memory.search").approval == "ask"  # type: ignore[union-attr]
        assert memory.approval == "auto"  # the supplied tool itself is not changed
        result = registry.call(
            "memory.search", {"query": "x"}, context=ctx, before_call=lambda r: True
        )
        assert result.ok
    with pytest.raises(ToolConfigError, match=r"tools\[0\] 'memory.search': .*turn memory on"):
        build_registry(entries, workspace=workspace)


def test_the_catalogue_imports_without_posix_only_modules() -> None:
    """Windows has no pwd, resource or fcntl: building a registry must not need them."""
    import subprocess

    code = (
        "import sys, psutil  # psutil has its own Windows build\n"
        "for name in ('pwd', 'resource', 'fcntl', 'grp'): sys.modules[name] = None\n"
        "from pathlib import Path\n"
        "from engine.tools.catalog import BUILTINS, build_registry\n"
        "names = [{'name': n} for n in BUILTINS if n != 'http.get']\n"
        "build_registry(names, workspace=Path('.')).close()\n"
        "print('ok')\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False
    )
    assert done.stdout == "ok\n", done.stderr
