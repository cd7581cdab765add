"""Window state, theme and recent files, kept in `<data home>/gui.ini` (never the real home
in tests: the data home is a temporary folder there)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from engine import paths

SETTINGS_FILE = "gui.ini"
MAX_RECENT = 10


def open_settings() -> QSettings:
    return QSettings(str(paths.data_home() / SETTINGS_FILE), QSettings.Format.IniFormat)


class RecentFiles:
    """Most-recent-first list of paths under one settings key (missing files are dropped)."""

    def __init__(self, settings: QSettings, key: str, limit: int = MAX_RECENT) -> None:
        self.settings = settings
        self.key = f"recent/{key}"
        self.limit = limit

    def items(self) -> list[Path]:
        raw = self.settings.value(self.key, [])
        values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        return [Path(v) for v in values if v and Path(v).exists()]

    def add(self, path: Path | str) -> None:
        text = str(Path(path).expanduser().resolve())
        values = [text, *(str(p) for p in self.items() if str(p) != text)]
        self.settings.setValue(self.key, values[: self.limit])
        self.settings.sync()

    def clear(self) -> None:
        self.settings.remove(self.key)
        self.settings.sync()
