"""Agent Workbench entry point: the window by default, headless subcommands otherwise."""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    if not argv or argv[0] == "gui":
        # The window lives in gui/; the engine (and its CLI) never imports it.
        from gui.app import main as gui_main

        return gui_main(argv[1:])
    from engine.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
