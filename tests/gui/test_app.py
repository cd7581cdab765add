"""`main.py gui`: the real entry point, in a subprocess on the offscreen platform."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "AGENT_WORKBENCH_HOME": str(home)}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "gui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_screenshot_of_the_demo_on_the_tiny_model(tmp_path: Path, tiny_int4: Path) -> None:
    shot = tmp_path / "window.png"
    # The demo runs on a prepared folder given by path; settings go to a fresh data home.
    result = _run(
        ["--demo", "--model", str(tiny_int4), "--screenshot", str(shot), "--settle", "0.5"],
        tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 700
    assert (tmp_path / "home" / "gui.ini").is_file()  # state saved in the data home


def test_demo_with_a_missing_model_exits_2_with_the_reason(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    result = _run(
        ["--demo", "--model", "nope", "--screenshot", str(shot), "--settle", "0"], tmp_path / "home"
    )
    assert result.returncode == 2
    assert "error: the demo failed:" in result.stderr and "prepare" in result.stderr
    assert shot.is_file()  # the window (with the error shown) is still captured


def test_without_a_display_it_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env.update(PYTHONPATH=str(ROOT), AGENT_WORKBENCH_HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "error: no display to open the window on" in result.stderr
    assert "QT_QPA_PLATFORM=offscreen" in result.stderr


def test_display_problem_rules() -> None:
    from gui.app import display_problem

    assert display_problem({}, "linux").startswith("no display")
    assert display_problem({"DISPLAY": ":0"}, "linux") == ""
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") == ""
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") == ""
    assert display_problem({}, "win32") == ""
