"""Settings live under the data home; recent files keep order, drop duplicates and missing."""

from __future__ import annotations

from pathlib import Path

from gui.settings import SETTINGS_FILE, RecentFiles, open_settings


def test_settings_file_is_in_the_data_home(_data_home: Path) -> None:
    s = open_settings()
    s.setValue("theme", "light")
    s.sync()
    assert Path(s.fileName()) == _data_home / SETTINGS_FILE
    assert open_settings().value("theme") == "light"


def test_recent_files_order_dedupe_limit_and_missing(tmp_path: Path) -> None:
    files = []
    for i in range(5):
        f = tmp_path / f"m{i}.gguf"
        f.write_bytes(b"GGUF")
        files.append(f)
    recent = RecentFiles(open_settings(), "models", limit=3)
    for f in [*files[:4], files[1]]:
        recent.add(f)
    assert recent.items() == [files[1], files[3], files[2]]
    files[3].unlink()
    assert recent.items() == [files[1], files[2]]
    again = RecentFiles(open_settings(), "models", limit=3)  # persisted
    assert again.items() == [files[1], files[2]]
    again.clear()
    assert recent.items() == []
