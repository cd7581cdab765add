"""`tools list` and `tools call` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [b["name"] for b in data["builtins"]]
    assert {"calculator", "python", "files.read", "clock", "http.get"} <= set(names)
    assert main(["tools", "list"]) == 0
    assert "calculator" in capsys.readouterr().err


def test_call(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["tools", "call", "calculator", "--args", '{"expression": "6*7"}']) == 0
    assert capsys.readouterr().out == "42\n"
    (tmp_path / "a.txt").write_text("hello\n")
    code = main(
        ["tools", "call", "files.read", "--args", '{"path": "a.txt"}',
         "--workspace", str(tmp_path), "--json"]
    )  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ok"] and data["output"] == "hello"
    refused = main(
        ["tools", "call", "files.read", "--args", '{"path": "../x"}', "--workspace", str(tmp_path)]
    )
    assert refused == 1 and "'..'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tools", "call", "calculater"], "no built-in tool 'calculater'"),
        (["tools", "call", "calculator", "--args", "{oops"], "--args is not valid JSON"),
        (["tools", "call", "calculator", "--args", "[1]"], "--args must be a JSON object"),
        (["tools", "call", "clock", "--settings", '{"zone": 1}'], "settings"),
        (["tools", "call", "http.get", "--args", '{"url": "http://x"}'], "allow_hosts"),
        (["tools", "call", "clock", "--workspace", "/nonexistent/ws"], "no such folder"),
    ],
)
def test_bad_input_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_list_says_what_isolation_the_python_tool_gets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    python = next(b for b in data["builtins"] if b["name"] == "python")
    assert set(python["isolation"]) == {"namespaces", "network_can_be_cut", "summary"}
    assert main(["tools", "list"]) == 0
    assert f"sandbox here: {python['isolation']['summary']}" in capsys.readouterr().err


HOSTILE = "\x1b]0;pwned\x07\x1b[2J<b>bold</b><img src=x>\u202eevil"


def test_call_shows_control_characters_escaped_and_json_faithful(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "evil.txt").write_text(HOSTILE, encoding="utf-8")
    argv = ["tools", "call", "files.read", "--args", '{"path": "evil.txt"}']
    assert main([*argv, "--workspace", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\x1b]0;pwned\\x07\\x1b[2J<b>bold</b><img src=x>\\u202eevil" in shown
    assert main([*argv, "--workspace", str(tmp_path), "--json"]) == 0
    assert HOSTILE in json.loads(capsys.readouterr().out)["output"]
