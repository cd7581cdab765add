"""Smoke test of the built desktop bundle (build it first: packaging/build_linux.sh, ~1-2 min).

Skipped when `dist/agent-workbench/` does not exist: building is too slow for the suite.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "agent-workbench" / "agent-workbench"


@pytest.mark.skipif(not BUNDLE.is_file(), reason="bundle not built (packaging/build_linux.sh)")
def test_bundle_runs_the_demo_offscreen_and_saves_a_screenshot(
    tmp_path: Path, tiny_int4: Path
) -> None:
    shot = tmp_path / "bundle.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "AGENT_WORKBENCH_HOME": str(tmp_path)}
    env.pop("PYTHONPATH", None)  # the bundle must not need the source tree
    args = ["gui", "--demo", "--model", str(tiny_int4), "--screenshot", str(shot)]
    result = subprocess.run(
        [str(BUNDLE), *args, "--settle", "0.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert QImage(str(shot)).width() >= 1000
