"""The project as a wheel: built from a clean copy of the sources, installed outside the
repository, and run through its `agent-workbench` console script.

The wheel goes in with `--no-deps` into a folder of its own; the dependencies come from the
interpreter running the tests (nothing is downloaded). Every command runs from a folder
outside the repository with only that folder on PYTHONPATH, so the checkout's own
`engine/` and `gui/` cannot be what answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
#: What the wheel is built from: the project file, its readme and the three packages.
SOURCES = ("pyproject.toml", "README.md", "agent_workbench", "engine", "gui")
TIMEOUT = 120


@dataclass(frozen=True)
class Installed:
    site: Path  # the --target folder: packages, resources, bin/agent-workbench
    script: Path
    cwd: Path  # outside the repository

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PYTHONPATH=str(self.site), AGENT_WORKBENCH_HOME=str(home), **extra)
        return env

    def run(self, *args: str, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.script), *args],
            cwd=self.cwd,
            env=self.env(home, **extra),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )


def _pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"  # a clean copy: no stale build/ or egg-info from the checkout
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist, site = base / "dist", base / "site"
    # No build isolation: the build backend (setuptools, from the dev extra) is already here.
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(src))
    (wheel,) = dist.glob("agent_workbench-*.whl")
    _pip("install", "--no-deps", "--no-index", "--target", str(site), str(wheel))
    script = site / "bin" / ("agent-workbench.exe" if os.name == "nt" else "agent-workbench")
    assert script.is_file()
    cwd = base / "elsewhere"
    cwd.mkdir()
    return Installed(site, script, cwd)


def test_the_installed_copy_is_the_one_that_runs(installed: Installed, tmp_path: Path) -> None:
    code = (
        "import json, agent_workbench, engine, gui; from engine.paths import resource; "
        "print(json.dumps([m.__file__ for m in (agent_workbench, engine, gui)]"
        " + [str(resource('agents'))]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=installed.cwd,
        env=installed.env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    for path in json.loads(result.stdout):
        assert Path(path).is_relative_to(installed.site), path
    shipped = installed.site / "engine" / "resources"
    for part in ("agents", "prompts", "schemas", "templates", "themes", "validation", "demo"):
        assert any((shipped / part).iterdir()), part
    assert (shipped / "agents" / "research.workspace" / "trip.md").is_file()


def test_help_lists_the_window_and_the_commands(installed: Installed, tmp_path: Path) -> None:
    result = installed.run("--help", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("usage: agent-workbench ")
    for command in ("gui", "model", "generate", "agent", "memory"):
        assert f"\n    {command} " in out, command
    assert "usage: agent-workbench gui" in out and "--screenshot FILE" in out


def test_model_list_on_an_empty_data_home(installed: Installed, tmp_path: Path) -> None:
    result = installed.run("model", "list", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "no prepared models" in result.stdout + result.stderr


def test_an_agent_from_a_shipped_template_validates(installed: Installed, tmp_path: Path) -> None:
    home = tmp_path / "home"
    agent = tmp_path / "work" / "notes.agent.yaml"
    made = installed.run("agent", "new", "--template", "research", str(agent), home=home)
    assert made.returncode == 0, made.stderr
    checked = installed.run("agent", "validate", str(agent), home=home)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert any((tmp_path / "work").glob("*/trip.md"))  # the sample workspace came along


def test_the_window_opens_offscreen_and_saves_a_screenshot(
    installed: Installed, tmp_path: Path
) -> None:
    shot = tmp_path / "window.png"
    result = installed.run(
        "gui", "--screenshot", str(shot), "--settle", "0",
        home=tmp_path / "home", QT_QPA_PLATFORM="offscreen",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 0
    assert QImage(str(shot)).width() >= 800
