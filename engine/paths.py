"""Where the workbench keeps its data: the data home and its sub-folders."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "AGENT_WORKBENCH_HOME"
APP_NAME = "agent-workbench"


def data_home() -> Path:
    """The data home: `AGENT_WORKBENCH_HOME`, else the platform's user data folder."""
    override = os.environ.get(HOME_ENV)
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    home.mkdir(parents=True, exist_ok=True)
    return home


def _sub(name: str) -> Path:
    path = data_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    return _sub("models")


def agents_dir() -> Path:
    return _sub("agents")


def memory_dir() -> Path:
    return _sub("memory")


def runs_dir() -> Path:
    return _sub("runs")


def sessions_dir() -> Path:
    return _sub("sessions")


def settings_file() -> Path:
    return data_home() / "settings.toml"
