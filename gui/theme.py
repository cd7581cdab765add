"""Dark and light themes: a palette + style sheet for widgets, colours for charts.

Each theme is data in `engine/resources/themes/<name>.json` (colours) and `<name>.qss`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from engine.paths import resource

THEMES_DIR = resource("themes")
THEMES = ("dark", "light")


@dataclass(frozen=True)
class Theme:
    name: str
    colors: dict[str, str]  # palette roles + chart colours (chart.<series>)
    qss: str

    def color(self, key: str) -> str:
        return self.colors[key]

    def chart(self, series: str) -> str:
        return self.colors.get(f"chart.{series}", self.colors["text"])


def load_theme(name: str) -> Theme:
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}: choose one of {', '.join(THEMES)}")
    data: dict[str, Any] = json.loads((THEMES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    qss = (THEMES_DIR / f"{name}.qss").read_text(encoding="utf-8")
    return Theme(name, {str(k): str(v) for k, v in data.items()}, qss)


_ROLES = {
    "window": QPalette.ColorRole.Window,
    "window_text": QPalette.ColorRole.WindowText,
    "base": QPalette.ColorRole.Base,
    "alternate_base": QPalette.ColorRole.AlternateBase,
    "text": QPalette.ColorRole.Text,
    "button": QPalette.ColorRole.Button,
    "button_text": QPalette.ColorRole.ButtonText,
    "highlight": QPalette.ColorRole.Highlight,
    "highlighted_text": QPalette.ColorRole.HighlightedText,
    "tooltip_base": QPalette.ColorRole.ToolTipBase,
    "tooltip_text": QPalette.ColorRole.ToolTipText,
    "placeholder": QPalette.ColorRole.PlaceholderText,
    "link": QPalette.ColorRole.Link,
}


def apply_theme(app: QApplication, theme: Theme) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for key, role in _ROLES.items():
        if key in theme.colors:
            palette.setColor(role, QColor(theme.colors[key]))
    disabled = QColor(theme.colors.get("disabled", "#808080"))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    app.setStyleSheet(theme.qss)
