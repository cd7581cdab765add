"""`python -m agent_workbench [gui | COMMAND ...]`."""

from agent_workbench.launch import main

raise SystemExit(main())
