"""How a built-in tool is described to the catalogue: its settings and how it is built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.tools.base import ApprovalPolicy, Tool

#: Builds the tool from its validated settings and the agent's workspace folder.
Factory = Callable[[Mapping[str, Any], Path], Tool]
#: Checks what the settings schema cannot say (a time zone exists); raises `ToolError`.
SettingsCheck = Callable[[Mapping[str, Any]], None]

NO_SETTINGS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(frozen=True)
class BuiltinSpec:
    """A built-in tool as the designer and the agent-file schema see it."""

    name: str
    description: str
    factory: Factory
    settings_schema: dict[str, Any] = field(default_factory=lambda: dict(NO_SETTINGS))
    approval: ApprovalPolicy = "auto"
    check: SettingsCheck | None = None

    def info(self) -> dict[str, Any]:
        """JSON-able description: what it does, its settings schema, its default approval."""
        return {
            "name": self.name,
            "description": self.description,
            "settings": self.settings_schema,
            "approval": self.approval,
        }
