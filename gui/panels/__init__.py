"""Built-in panels. Each module registers itself (see `registry`); add new ones here."""

from __future__ import annotations

import importlib

#: Modules whose import registers a panel. Phase 2 appends the agent designer, prompt
#: preview, run console and memory browser modules.
BUILTIN = (
    "gui.panels.models",
    "gui.panels.console",
    "gui.panels.run_console",
    "gui.panels.profiler",
    "gui.panels.messages",
    "gui.panels.designer",
    "gui.panels.memory",
    "gui.panels.profile_sessions",
    "gui.panels.bench_matrix",
    "gui.panels.evaluation",
)


def load_builtin_panels() -> None:
    for name in BUILTIN:
        importlib.import_module(name)
