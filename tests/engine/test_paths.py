"""Where the workbench keeps its data: folders only their owner can open."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine import paths

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def test_data_home_and_its_folders_are_private(_data_home: Path) -> None:
    assert not _data_home.exists()
    home = paths.data_home()
    folders = [home, paths.memory_dir(), paths.runs_dir(), paths.agents_dir()]
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_an_open_data_home_of_ours_is_closed(_data_home: Path) -> None:
    _data_home.mkdir(mode=0o755)
    os.chmod(_data_home, 0o755)  # as an older version left it
    assert stat.S_IMODE(paths.data_home().stat().st_mode) == 0o700
