"""The Python tool: runs code in a limited process; runaway code is stopped and cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from engine.tools.base import ToolContext, ToolRegistry
from engine.tools.catalog import build_registry
from engine.tools.sandbox import Limits, leftovers, run_python

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox's limits are POSIX")


def _registry(workspace: Path, **settings: object) -> ToolRegistry:
    entry = {"name": "python", "approval": "auto", "settings": {"timeout_s": 3, **settings}}
    return build_registry([entry], workspace=workspace)


def run(workspace: Path, ctx: ToolContext, code: str, **settings: object):  # type: ignore[no-untyped-def]
    with _registry(workspace, **settings) as registry:
        return registry.call("python", {"code": textwrap.dedent(code)}, context=ctx)


def test_runs_code_in_the_scratch_folder(workspace: Path, ctx: ToolContext) -> None:
    result = run(workspace, ctx, "import os\nopen('out.txt', 'w').write('42')\nprint(os.getcwd())")
    assert result.ok and result.output == str(workspace / "scratch")
    assert (workspace / "scratch" / "out.txt").read_text() == "42"
    again = run(workspace, ctx, "print(open('out.txt').read())")
    assert again.output == "42"


def test_temp_scratch_is_removed(workspace: Path, ctx: ToolContext) -> None:
    result = run(workspace, ctx, "import os; print(os.getcwd())", scratch="temp")
    assert result.ok and not Path(result.output).exists()
    assert not (workspace / "scratch").exists()


def test_errors_and_empty_output(workspace: Path, ctx: ToolContext) -> None:
    failed = run(workspace, ctx, "print('before')\n1 / 0")
    assert failed.error_kind == "failed"
    assert "exit status 1" in failed.output and "ZeroDivisionError" in failed.output
    assert "before" in failed.output
    quiet = run(workspace, ctx, "x = 2 + 2")
    assert quiet.ok and "use print()" in quiet.output


def test_environment_is_stripped(workspace: Path, ctx: ToolContext, _data_home: Path) -> None:
    assert os.environ["AGENT_WORKBENCH_HOME"] == str(_data_home)
    os.environ["AW_TEST_SECRET"] = "hunter2"
    try:
        result = run(workspace, ctx, "import os, json; print(json.dumps(dict(os.environ)))")
    finally:
        del os.environ["AW_TEST_SECRET"]
    env = json.loads(result.output)
    assert "AGENT_WORKBENCH_HOME" not in env and "AW_TEST_SECRET" not in env
    assert str(_data_home) not in result.output
    assert set(env) <= {
        "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "AW_SANDBOX_RUN",
    }  # fmt: skip


@pytest.mark.skipif(os.name == "posix" and os.geteuid() != 0, reason="root-only separation")
def test_as_root_the_code_cannot_read_the_data_home(
    workspace: Path, ctx: ToolContext, _data_home: Path
) -> None:
    _data_home.mkdir(parents=True, exist_ok=True)
    os.chmod(_data_home, 0o700)
    (_data_home / "memory.sqlite").write_text("private")
    code = f"import os; print(os.getuid()); open({str(_data_home / 'memory.sqlite')!r}).read()"
    result = run(workspace, ctx, code)
    assert result.error_kind == "failed" and "PermissionError" in result.output
    assert "private" not in result.output
    assert int(result.output.split("\n")[1]) >= 61000  # ran under a user id of its own


def test_infinite_loop_times_out(workspace: Path, ctx: ToolContext) -> None:
    start = time.monotonic()
    result = run(
        workspace, ctx, "print('started', flush=True)\nwhile True:\n    pass", timeout_s=1.5
    )
    assert result.error_kind == "timeout" and "time limit of 1.5 s" in result.output
    assert "started" in result.output
    assert time.monotonic() - start < 8


def test_memory_hog_is_limited(workspace: Path, ctx: ToolContext) -> None:
    result = run(workspace, ctx, "x = bytearray(1_000_000_000)\nprint('got it')", memory_mb=256)
    assert result.error_kind == "failed"
    assert "MemoryError" in result.output and "memory limit is 256 MB" in result.output
    assert "got it" not in result.output


def test_huge_output_is_clipped(workspace: Path, ctx: ToolContext) -> None:
    result = run(workspace, ctx, "print('z' * 10_000_000)", max_output_bytes=5000)
    assert result.ok and len(result.output) < 4200 and "more characters cut" in result.output


FORK_COUNT = """
import os, time
made = 0
for _ in range(500):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.setsid()
        time.sleep(120)
        os._exit(0)
    made += 1
print(made, flush=True)
"""

FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


def test_process_count_is_limited_and_nothing_outlives_the_call(tmp_path: Path) -> None:
    limits = Limits(timeout_s=5, max_processes=8)
    done, token, uid = run_python(FORK_COUNT, scratch=tmp_path / "s", limits=limits)
    assert done.returncode == 0, done.stderr
    assert 1 <= int(done.stdout) <= 8
    assert leftovers(token, uid) == []  # the sleeping, setsid'd children were killed


def test_fork_bomb_is_contained_and_cleaned_up(tmp_path: Path) -> None:
    before = len(psutil.pids())
    start = time.monotonic()
    done, token, uid = run_python(FORK_BOMB, scratch=tmp_path / "s", limits=Limits(timeout_s=2))
    assert done.timed_out and time.monotonic() - start < 10
    assert leftovers(token, uid) == []
    assert len(psutil.pids()) < before + 20


NOT_ROOT = """
import json, sys
from pathlib import Path
from engine.tools.sandbox import Limits, leftovers, run_python
done, token, uid = run_python(sys.argv[1], scratch=Path(sys.argv[2]), limits=Limits(timeout_s=2))
print(json.dumps({"uid": uid, "timed_out": done.timed_out, "out": done.stdout,
                  "left": len(leftovers(token, uid))}))
"""


@pytest.mark.skipif(os.name == "posix" and os.geteuid() != 0, reason="needs root to switch user")
@pytest.mark.parametrize("code", [FORK_COUNT, FORK_BOMB])
def test_fork_bomb_as_an_ordinary_user(code: str) -> None:
    """The desktop case: no user id of its own; the process limit counts the user's processes."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder) / "s"
        scratch.mkdir()
        os.chmod(folder, 0o755)
        os.chown(scratch, 60500, 60500)
        env = {"PYTHONPATH": str(Path(__file__).resolve().parents[3]), "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, "-c", NOT_ROOT, code, str(scratch)],
            capture_output=True, text=True, timeout=60, env=env, check=False, cwd=folder,
            user=60500, group=60500, extra_groups=[],
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["uid"] is None and report["left"] == 0
    if code is FORK_COUNT:
        assert 1 <= int(report["out"]) <= 16
    else:
        assert report["timed_out"]
    assert not [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == 60500]
