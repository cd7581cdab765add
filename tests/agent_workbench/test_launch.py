"""The launcher: which half answers, and the top-level help that lists both."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent_workbench import launch


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    seen: list[tuple[str, list[str]]] = []

    def gui_main(argv: Sequence[str], prog: str) -> int:
        seen.append((prog, list(argv)))
        return 0

    def cli_main(argv: Sequence[str], prog: str) -> int:
        seen.append((f"cli as {prog}", list(argv)))
        return 0

    monkeypatch.setattr("gui.app.main", gui_main)
    monkeypatch.setattr("engine.cli.main", cli_main)
    monkeypatch.setattr("sys.argv", ["agent-workbench"])
    return seen


def test_no_arguments_or_gui_open_the_window(calls: list[tuple[str, list[str]]]) -> None:
    assert launch.main([]) == 0
    assert launch.main(["gui", "--screenshot", "x.png"]) == 0
    assert calls == [
        ("agent-workbench gui", []),
        ("agent-workbench gui", ["--screenshot", "x.png"]),
    ]


def test_other_commands_go_to_the_cli(calls: list[tuple[str, list[str]]]) -> None:
    assert launch.main(["model", "list"]) == 0
    assert calls == [("cli as agent-workbench", ["model", "list"])]


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_the_window_with_its_options_and_the_commands(
    flag: str, calls: list[tuple[str, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert launch.main([flag]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: agent-workbench [-h] COMMAND ...")
    assert "\n    gui " in out and "\n    model " in out and "\n    agent " in out
    assert "usage: agent-workbench gui [-h] [--screenshot FILE] [--demo]" in out
    assert calls == []  # help is printed here, nothing is started


def test_program_name_says_how_it_was_started() -> None:
    assert launch.program_name("/venv/bin/agent-workbench") == "agent-workbench"
    assert launch.program_name("main.py") == "main.py"
    assert launch.program_name("/x/agent_workbench/__main__.py") == "python -m agent_workbench"
