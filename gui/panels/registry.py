"""Panels register themselves here; the main window builds one dock per registered panel.

A panel module defines a QWidget subclass taking the `AppContext` and decorates it:

    @register_panel("models", "Models", area="left", order=10, shortcut="Ctrl+1")
    class QtModelManager(QWidget): ...

and is listed in `gui.panels.BUILTIN`. The registration is the whole default layout:
the window puts each dock in its `area` (in `order`), tabs a panel with `tab_with` into
that panel's dock (where it then lives, whatever its own `area`), brings the panels
others are tabbed with to the front, and gives a dock its `width` / `height` on the
first start. The window knows no panel by class or by id.
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
    width: int = 0  # the dock's width on the first start (0: Qt's choice)
    height: int = 0  # the dock's height on the first start (0: Qt's choice)


_PANELS: dict[str, PanelSpec] = {}


def register_panel(
    panel_id: str,
    title: str,
    area: str = "right",
    order: int = 100,
    shortcut: str = "",
    tab_with: str = "",
    width: int = 0,
    height: int = 0,
) -> Callable[[W], W]:
    if area not in AREAS:
        raise ValueError(f"unknown dock area {area!r}: use one of {AREAS}")

    def decorate(cls: W) -> W:
        _PANELS[panel_id] = PanelSpec(
            panel_id, title, cls, area, order, shortcut, tab_with, width, height
        )
        return cls

    return decorate


def registered_panels() -> list[PanelSpec]:
    return sorted(_PANELS.values(), key=lambda spec: (spec.order, spec.id))
