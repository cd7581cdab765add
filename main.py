"""Agent Workbench from a source checkout: `python main.py [gui | COMMAND ...]`."""

from agent_workbench.launch import main

if __name__ == "__main__":
    raise SystemExit(main())
