"""The headless commands (the contract in DESIGN.md), one module per command group.

Only the launcher (main.py, `agent-workbench`) imports this package: nothing in the
engine or the window does (an import-linter contract). A command parses its options,
calls the engine, and prints through `engine.cli.output`: `--json` output is exactly one
JSON object on stdout; progress and human-readable text go to stderr. Errors the user
can act on exit with status 2 and one clear message.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from engine.cli import agent, bench, eval, generate, memory, models, profile, tools
from engine.cli.output import EXIT_INTERRUPTED, EXIT_USER_ERROR, err
from engine.errors import WorkbenchError

#: Command groups in the order `--help` lists them.
GROUPS = (models, generate, bench, profile, agent, tools, memory, eval)


def build_parser(prog: str = "main.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Agent Workbench")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "main.py") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except WorkbenchError as exc:
        err(f"error: {exc}")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
