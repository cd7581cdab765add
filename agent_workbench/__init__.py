"""Agent Workbench's launcher: the window by default, the headless commands otherwise.

`agent-workbench` (the console script), `python -m agent_workbench` and a source
checkout's `python main.py` all start `agent_workbench.launch.main`.
"""
