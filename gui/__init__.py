"""The Agent Workbench window (PySide6). Reaches the engine only through `gui.bridge`."""
