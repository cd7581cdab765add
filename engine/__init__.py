"""Agent Workbench engine: everything that works without a window (never imports Qt)."""

__version__ = "0.1.0"
