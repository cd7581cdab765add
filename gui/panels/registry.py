"""Panels register themselves here; the main window builds one dock per registered panel.

A panel module defines a QWidget subclass taking the `AppContext` and decorates it:

    @register_panel("models", "Models", area="left", order=10, shortcut="Ctrl+1")
    class QtModelManager(QWidget): ...

and is listed in `gui.panels.BUILTIN`. The window never knows panel classes by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from gui.context import AppContext

AREAS = ("left", "right", "top", "bottom")

W = TypeVar("W", bound=type[QWidget])


@dataclass(frozen=True)
class PanelSpec:
    id: str
    title: str
    factory: Callable[[AppContext], QWidget]
    area: str
    order: int
    shortcut: str = ""
    tab_with: str = ""  # the id of a panel whose dock this one shares as a tab


_PANELS: dict[str, PanelSpec] = {}


def register_panel(
    panel_id: str,
    title: str,
    area: str = "right",
    order: int = 100,
    shortcut: str = "",
    tab_with: str = "",
) -> Callable[[W], W]:
    if area not in AREAS:
        raise ValueError(f"unknown dock area {area!r}: use one of {AREAS}")

    def decorate(cls: W) -> W:
        _PANELS[panel_id] = PanelSpec(panel_id, title, cls, area, order, shortcut, tab_with)
        return cls

    return decorate


def registered_panels() -> list[PanelSpec]:
    return sorted(_PANELS.values(), key=lambda spec: (spec.order, spec.id))
