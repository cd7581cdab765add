"""Where the workbench keeps its data (the data home and its sub-folders) and where the
files it ships are (`engine/resources/`, package data)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import platformdirs

HOME_ENV = "AGENT_WORKBENCH_HOME"
APP_NAME = "agent-workbench"


def _private(path: Path) -> Path:
    """Create `path` (and missing parents) as a folder only its owner can open (0700 on
    POSIX), so files written inside are not readable by other users whatever their own
    mode. A folder that exists is closed too when it is ours, unless it is writable by
    everyone (a shared folder such as /tmp, given as the data home, is left alone)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        info = path.stat()
        shared = info.st_mode & 0o002
        if info.st_uid == os.geteuid() and info.st_mode & 0o077 and not shared:
            os.chmod(path, 0o700)
    return path


def data_home() -> Path:
    """The data home: `AGENT_WORKBENCH_HOME`, else the platform's user data folder.

    Created 0700 (POSIX): memory databases, transcripts and settings are the user's own.
    """
    override = os.environ.get(HOME_ENV)
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    return _private(home)


def _sub(name: str) -> Path:
    return _private(data_home() / name)


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


def resource(*parts: str) -> Path:
    """A file or folder shipped in `engine/resources/` (templates, prompts, schemas, themes).

    Found through the installed `engine` package, so a source checkout, a wheel and a
    PyInstaller bundle all work. Each of them unpacks the package onto the file system,
    which callers rely on (Jinja's loader, `glob`, `copytree`); a zip import does not.
    """
    root = files("engine")
    if not isinstance(root, Path):
        raise RuntimeError(f"engine is not installed as a folder ({root}): no resources")
    return root.joinpath("resources", *parts)
