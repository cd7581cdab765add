"""Agent Workbench entry point: the window by default, headless subcommands otherwise."""

from __future__ import annotations

import sys


def main() -> int:
    from engine.cli import main as cli_main

    argv = sys.argv[1:]
    if not argv:
        # The window arrives with the GUI issue; until then the default is the headless demo.
        argv = ["demo"]
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
