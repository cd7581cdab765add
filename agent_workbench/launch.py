"""One entry point for the window and the headless commands.

No arguments, or `gui ...`, open the window (`gui.app.main`); any other command goes to
the headless CLI (`engine.cli.main`), which knows nothing about the window. The top-level
`--help` is built here from both parsers, so each keeps its own options.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

WINDOW = "gui"
HELP = ("-h", "--help")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    prog = program_name()
    if not args or args[0] == WINDOW:
        from gui.app import main as gui_main

        return gui_main(args[1:], prog=f"{prog} {WINDOW}")
    if args[0] in HELP:
        sys.stdout.write(help_text(prog))
        return 0
    from engine.cli import main as cli_main

    return cli_main(args, prog=prog)


def program_name(argv0: str | None = None) -> str:
    """How the user started us: `agent-workbench`, `main.py` or `python -m agent_workbench`."""
    name = os.path.basename(sys.argv[0] if argv0 is None else argv0)
    return "python -m agent_workbench" if name == "__main__.py" else name or "agent-workbench"


def help_text(prog: str) -> str:
    """The CLI's help with the window listed among its commands, then the window's options."""
    from engine.cli import build_parser
    from gui.app import build_parser as build_gui_parser

    window = build_gui_parser(prog=f"{prog} {WINDOW}")
    parser = build_parser(prog)
    parser.description = (
        "Agent Workbench: with no command the window opens (`gui`); the other commands "
        f"run headless. `{prog} COMMAND --help` describes a command."
    )
    commands = _commands(parser)
    commands.metavar = "COMMAND"
    commands.add_parser(WINDOW, help="open the workbench window (the default; options below)")
    return f"{parser.format_help()}\n{window.format_help()}"


def _commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The parser's sub-command action (argparse has no public accessor for it)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"{parser.prog} has no sub-commands")
