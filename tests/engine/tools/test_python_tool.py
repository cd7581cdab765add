"""The Python tool: runs code in a limited process; runaway code is stopped and cleaned up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from engine.progress import CancelToken
from engine.tools.base import ToolContext, ToolRegistry, ToolResult
from engine.tools.catalog import build_registry
from engine.tools.python_tool import trim_unmatched_closers
from engine.tools.sandbox import Limits, kept_scratch, run_python
from engine.tools.sandbox_user import UID_RANGE, leftovers
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox's limits are POSIX")


def _registry(workspace: Path, **settings: object) -> ToolRegistry:
    entry = {"name": "python", "approval": "auto", "settings": {"timeout_s": 3, **settings}}
    return build_registry([entry], workspace=workspace)


def run(workspace: Path, ctx: ToolContext, code: str, **settings: object) -> ToolResult:
    with _registry(workspace, **settings) as registry:
        return registry.call("python", {"code": textwrap.dedent(code)}, context=ctx)


def test_runs_code_in_a_private_scratch_folder(workspace: Path, ctx: ToolContext) -> None:
    (workspace / "input.txt").write_text("from the workspace")
    result = run(workspace, ctx, "import os\nopen('out.txt', 'w').write('42')\nprint(os.getcwd())")
    assert result.ok
    assert not (workspace / "scratch").exists()  # nothing is written into the workspace
    kept = kept_scratch(workspace)
    assert (kept / "out.txt").read_text() == "42"
    again = run(workspace, ctx, "print(open('out.txt').read())")
    assert again.output == "42"
    if result.output == "/scratch":  # namespaces: the workspace is shown read-only
        read = run(workspace, ctx, "print(open('/workspace/input.txt').read())")
        assert read.output == "from the workspace"
        write = run(workspace, ctx, "open('/workspace/new.txt', 'w')")
        assert write.error_kind == "failed" and "Read-only file system" in write.output
        assert not (workspace / "new.txt").exists()


def test_temp_scratch_is_removed(workspace: Path, ctx: ToolContext, _data_home: Path) -> None:
    result = run(workspace, ctx, "open('x', 'w').write('1'); print('ok')", scratch="temp")
    assert result.ok and result.output == "ok"
    assert list((_data_home / "sandbox" / "tmp").iterdir()) == []
    assert not (workspace / "scratch").exists()


def test_errors_and_empty_output(workspace: Path, ctx: ToolContext) -> None:
    failed = run(workspace, ctx, "print('before')\n1 / 0")
    assert failed.error_kind == "failed"
    assert "exit status 1" in failed.output and "ZeroDivisionError" in failed.output
    assert "before" in failed.output
    quiet = run(workspace, ctx, "x = 2 + 2")
    assert quiet.ok and "use print()" in quiet.output
    assert "sandbox_runner" not in failed.output and 'File "<program>", line 2' in failed.output
    syntax = run(workspace, ctx, "print('a'")
    assert syntax.error_kind == "failed" and "SyntaxError" in syntax.output


def test_a_last_expression_shows_its_value(workspace: Path, ctx: ToolContext) -> None:
    assert run(workspace, ctx, "2 + 2").output == "4"
    assert run(workspace, ctx, "x = [1, 2]\nprint('list:')\nx * 2").output == "list:\n[1, 2, 1, 2]"
    assert run(workspace, ctx, "'hi'").output == "'hi'"
    assert "use print()" in run(workspace, ctx, "None").output
    exited = run(workspace, ctx, "import sys\nprint('bye')\nsys.exit(3)")
    assert exited.error_kind == "failed" and "exit status 3" in exited.output


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
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "AW_SANDBOX_RUN", "WORKSPACE",
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
    assert result.error_kind == "failed"
    assert "PermissionError" in result.output or "FileNotFoundError" in result.output
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
    ran = run_python(FORK_COUNT, scratch=tmp_path / "s", limits=limits)
    done, token, uid = ran.done, ran.token, ran.uid
    assert done.returncode == 0, done.stderr
    # As root the run has a user id of its own and RLIMIT_NPROC counts only its processes.
    # An ordinary user's limit is the user's process count at the start + 8: processes of
    # that user that end meanwhile (other tests' children) leave a little more room.
    slack = 0 if os.geteuid() == 0 else 4
    assert 1 <= int(done.stdout) <= 8 + slack
    assert leftovers(token, uid) == []  # the sleeping, setsid'd children were killed


def _sandbox_processes() -> int:
    count = 0
    for proc in psutil.process_iter(["uids", "status"]):
        with contextlib.suppress(psutil.Error):
            alive = proc.info["status"] != psutil.STATUS_ZOMBIE
            count += alive and proc.info["uids"].real in UID_RANGE
    return count


def test_fork_bomb_is_contained_and_cleaned_up(tmp_path: Path) -> None:
    peak = [0]
    running = threading.Event()
    running.set()

    def watch() -> None:  # how many sandbox processes run at once (root: own user ids)
        while running.is_set():
            peak[0] = max(peak[0], _sandbox_processes())
            time.sleep(0.02)  # the watcher's sampling rate, not a wait for something

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    limits = Limits(timeout_s=2, max_processes=16)
    ran = run_python(FORK_BOMB, scratch=tmp_path / "s", limits=limits)
    done, token, uid = ran.done, ran.token, ran.uid
    running.clear()
    watcher.join()
    assert done.timed_out and time.monotonic() - start < 10
    assert leftovers(token, uid) == []
    if uid is not None:
        assert 3 <= peak[0] <= 16 + 2  # it did fork, and never past the limit
        assert _sandbox_processes() == 0


KILL_SUPERVISOR = """
import os, signal, time
if os.fork() == 0:
    os.setsid()
    time.sleep(60)
    os._exit(0)
os.kill(os.getppid(), signal.SIGKILL)  # the supervisor
print("supervisor gone", flush=True)
time.sleep(60)
"""


def test_what_survives_a_killed_supervisor_is_swept(tmp_path: Path) -> None:
    start = time.monotonic()
    ran = run_python(KILL_SUPERVISOR, scratch=tmp_path / "s", limits=Limits(timeout_s=3))
    done, token, uid = ran.done, ran.token, ran.uid
    assert time.monotonic() - start < 8  # not the 10 s limit: the supervisor's end ends it
    # in namespaces the supervisor is process 1 there and cannot be killed from inside: the
    # program runs to its end and its time limit; without them, the supervisor dies
    assert done.returncode == -signal.SIGKILL or done.timed_out
    wait_until(lambda: leftovers(token, uid) == [], timeout=3, what="the sweep of leftovers")


NOT_ROOT = """
import json, sys
from pathlib import Path
from engine.tools.sandbox import Limits, kept_scratch, run_python
from engine.tools.sandbox_user import leftovers
ran = run_python(sys.argv[1], scratch=Path(sys.argv[2]), limits=Limits(timeout_s=2))
print(json.dumps({"uid": ran.uid, "timed_out": ran.done.timed_out, "out": ran.done.stdout,
                  "left": len(leftovers(ran.token, ran.uid))}))
"""


@pytest.mark.skipif(os.name == "posix" and os.geteuid() != 0, reason="needs root to switch user")
@pytest.mark.parametrize("code", [FORK_COUNT, FORK_BOMB, KILL_SUPERVISOR])
def test_fork_bomb_as_an_ordinary_user(code: str) -> None:
    """The desktop case: no user id of its own; the process limit counts the user's processes."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder) / "s"
        scratch.mkdir()
        os.chmod(folder, 0o755)
        os.chown(scratch, 60500, 60500)
        env = {"PYTHONPATH": str(Path(__file__).resolve().parents[3]), "PATH": "/usr/bin:/bin",
               "AGENT_WORKBENCH_HOME": str(scratch / "home")}  # fmt: skip
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
    if code is FORK_BOMB:
        assert report["timed_out"]
    left = [p for p in psutil.process_iter(["uids", "status"]) if p.info["uids"].real == 60500]
    if code is KILL_SUPERVISOR:  # orphans of a killed supervisor go to PID 1, which may not reap
        left = [p for p in left if p.info["status"] != psutil.STATUS_ZOMBIE]
    assert not left


def test_cancel_stops_the_program(workspace: Path) -> None:
    cancel = CancelToken()
    ctx = ToolContext(workspace=workspace, cancel=cancel)
    threading.Timer(0.5, cancel.cancel).start()
    start = time.monotonic()
    result = run(workspace, ctx, "import time\ntime.sleep(30)", timeout_s=30)
    assert result.error_kind == "failed" and "cancelled" in result.output
    assert time.monotonic() - start < 8


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces are Linux")
def test_network_is_cut_off_unless_allowed(workspace: Path, ctx: ToolContext) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 2)\nprint('in')"
        cut = run(workspace, ctx, code)
        assert cut.error_kind == "failed" and "Network is unreachable" in cut.output
        assert "could not be cut off" not in cut.output
        allowed = run(workspace, ctx, code, network=True)
        assert allowed.ok and allowed.output == "in"


def test_signals_are_named(workspace: Path, ctx: ToolContext) -> None:
    cpu = run(workspace, ctx, "import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)")
    assert cpu.error_kind == "failed" and "killed by SIGXCPU (CPU time limit)" in cpu.output
    big = run(workspace, ctx, "open('big', 'wb').write(b'x' * (65 * 2**20))")
    assert big.error_kind == "failed" and "File too large" in big.output  # 64 MB per file


@pytest.mark.parametrize(
    ("code", "ran", "removed"),
    [
        ("print(2**40)}", "print(2**40)\n", "}"),  # a JSON brace closed inside the string
        ("print([1, 2])]}", "print([1, 2])\n", "]}"),
        ("print(1)", "print(1)", ""),  # compiles: untouched
        ("print(f(x)", "print(f(x)", ""),  # not fixable by trimming: Python reports it
        ("x = {'a': 1}\n", "x = {'a': 1}\n", ""),
    ],
)
def test_unmatched_closers_at_the_end_are_trimmed(code: str, ran: str, removed: str) -> None:
    assert trim_unmatched_closers(code) == (ran, removed)


def test_a_trimmed_program_runs_and_says_so(workspace: Path, ctx: ToolContext) -> None:
    result = run(workspace, ctx, "print(2**40)}")
    assert result.ok, result.output
    assert result.output.startswith("1099511627776")
    assert "without the unmatched '}'" in result.output
