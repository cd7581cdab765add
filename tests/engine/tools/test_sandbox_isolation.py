"""The Python sandbox's walls: files, temporary space, processes, sockets and user ids."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engine.tools.base import ToolContext, ToolResult
from engine.tools.catalog import build_registry
from engine.tools.sandbox import Limits, run_python
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox's namespaces are Linux"
)
ROOT = os.name == "posix" and os.geteuid() == 0
REPO = Path(__file__).resolve().parents[3]


def _namespaces() -> str:
    """Why this machine cannot make the namespaces (empty: it can)."""
    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare(0x10000000 | 0x20000))"
    done = subprocess.run([sys.executable, "-I", "-c", probe], check=False, capture_output=True)
    return "" if done.returncode == 0 else "user and mount namespaces are not allowed here"


NO_NAMESPACES = _namespaces()
needs_namespaces = pytest.mark.skipif(bool(NO_NAMESPACES), reason=NO_NAMESPACES or "-")
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (a user id of its own, chown)")


def run(workspace: Path, code: str, **settings: object) -> ToolResult:
    entry = {"name": "python", "approval": "auto", "settings": {"timeout_s": 5, **settings}}
    with build_registry([entry], workspace=workspace) as registry:
        ctx = ToolContext(workspace=workspace)
        return registry.call("python", {"code": textwrap.dedent(code)}, context=ctx)


@pytest.fixture
def host_tmp() -> Iterator[Path]:
    """A folder in the host's /tmp that every user can read (cleaned up after)."""
    folder = Path(tempfile.mkdtemp(prefix="aw-host-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_planted_scratch_link_changes_nothing(workspace: Path, tmp_path: Path) -> None:
    """A `scratch -> elsewhere` link in the workspace (once `mkdir`ed through and chowned
    with all behind it: `scratch -> /etc` was a root takeover) is not used at all."""
    target = tmp_path / "etc-like"
    target.mkdir()
    secret = target / "shadow"
    secret.write_text("root:hash")
    os.chmod(secret, 0o600)
    os.symlink(target, workspace / "scratch")
    before = {p.name: (p.stat().st_uid, p.stat().st_mode) for p in [target, secret]}
    code = "import os\nopen('planted.txt', 'w').write('x')\nprint(sorted(os.listdir('.')))"
    result = run(workspace, code)
    assert {p.name: (p.stat().st_uid, p.stat().st_mode) for p in [target, secret]} == before
    assert sorted(p.name for p in target.iterdir()) == ["shadow"]  # nothing written there
    assert secret.read_text() == "root:hash"
    assert result.ok, result.output
    assert "shadow" not in result.output
    assert os.path.islink(workspace / "scratch")


@needs_namespaces
def test_the_data_home_is_not_reachable(_data_home: Path) -> None:
    """Agents live in the data home; from a workspace there, `../..` once led to the memory
    database (the working folder was entered before the user id was dropped)."""
    workspace = _data_home / "agents" / "helper"
    workspace.mkdir(parents=True)
    os.chmod(_data_home, 0o755)  # even a data home left open by an older version
    (_data_home / "memory").mkdir()
    (_data_home / "memory" / "helper.sqlite").write_text("remembered secrets")
    os.chmod(_data_home / "memory" / "helper.sqlite", 0o644)
    code = f"""
    import os
    for path in ["../../../memory/helper.sqlite", {str(_data_home / "memory/helper.sqlite")!r}]:
        try:
            print(open(path).read())
        except OSError as exc:
            print(type(exc).__name__)
    """
    result = run(workspace, code)
    assert result.ok and "remembered secrets" not in result.output
    assert result.output.split() == ["FileNotFoundError", "FileNotFoundError"]


@needs_namespaces
def test_host_files_outside_the_workspace_are_not_visible(workspace: Path, host_tmp: Path) -> None:
    """A world-readable file in the host's /tmp (and the user's home, /run) is not there."""
    (host_tmp / "notes.txt").write_text("host file")
    os.chmod(host_tmp / "notes.txt", 0o644)
    code = f"""
    import os
    for path in [{str(host_tmp / "notes.txt")!r}, "/run", "/home", {str(Path.home())!r}]:
        print(path, os.path.exists(path) and os.listdir(path) if os.path.isdir(path)
              else os.path.exists(path))
    """
    result = run(workspace, code)
    assert result.ok, result.output
    assert "host file" not in result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("False")
    for line in lines[1:]:  # absent, or (a bound interpreter's parent) without the files
        assert line.endswith("False") or ".ssh" not in line


@needs_namespaces
def test_writes_to_tmp_vanish_with_the_run(workspace: Path) -> None:
    name = f"aw-left-{secrets.token_hex(4)}"
    code = f"""
    for folder in ["/tmp", "/var/tmp", "/dev/shm"]:
        open(f"{{folder}}/{name}", "w").write("left behind")
    print(open("/tmp/{name}").read())
    """
    result = run(workspace, code)
    assert result.ok and result.output == "left behind"
    for folder in ["/tmp", "/var/tmp", "/dev/shm"]:
        assert not os.path.exists(f"{folder}/{name}")


@needs_namespaces
def test_shared_memory_is_size_limited_and_freed(workspace: Path) -> None:
    """Files in /dev/shm once outlived the run and escaped the memory limit (24 GB here)."""
    name = f"aw-shm-{secrets.token_hex(4)}"
    code = f"""
    written = 0
    try:
        with open("/dev/shm/{name}", "wb") as handle:
            for _ in range(8):
                handle.write(b"x" * (8 * 2**20))
                handle.flush()
                written += 8
    except OSError as exc:
        print(written, exc.strerror)
    """
    result = run(workspace, code, tmp_mb=16)
    assert result.ok, result.output
    written, why = result.output.split(" ", 1)
    assert int(written) <= 16 and why == "No space left on device"
    assert not os.path.exists(f"/dev/shm/{name}")


GRANDCHILD = """
import os, signal, sys, time
mark = {mark!r}
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # a grandchild with no environment, so no run marker
        os.execve("/bin/sleep", ["sleep", mark], {{}})
    os._exit(0)
time.sleep(0.5)
try:
    os.kill(os.getppid(), signal.SIGKILL)  # the supervisor, where it can be killed
except OSError:
    pass
print("done", flush=True)
"""

AS_USER = """
import json, sys
from pathlib import Path
from engine.tools.sandbox import Limits, run_python
ran = run_python(sys.argv[1], scratch=Path(sys.argv[2]), limits=Limits(timeout_s=3))
print(json.dumps({"namespaces": ran.isolation.namespaces, "out": ran.done.stdout}))
"""


def _sleepers(mark: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and proc.info["cmdline"] == [
            "sleep",
            mark,
        ]:
            found.append(proc)
    return found


@needs_namespaces
def test_a_grandchild_with_an_empty_environment_does_not_survive(tmp_path: Path) -> None:
    """As an ordinary user (the desktop case; as root the test switches to one)."""
    mark = f"{secrets.randbelow(10**6) + 1000}.{secrets.randbelow(999) + 1}"
    code = GRANDCHILD.format(mark=mark)
    folder = Path(tempfile.mkdtemp(prefix="aw-user-"))
    try:
        scratch = folder / "s"
        scratch.mkdir()
        options: dict[str, object] = {}
        if ROOT:
            os.chmod(folder, 0o755)
            os.chown(scratch, 60500, 60500)
            options = {"user": 60500, "group": 60500, "extra_groups": []}
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
               "AGENT_WORKBENCH_HOME": str(scratch / "home")}  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-c", AS_USER, code, str(scratch)], capture_output=True,
            text=True, timeout=60, env=env, check=False, cwd=folder, **options,  # type: ignore[call-overload]
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        wait_until(lambda: not _sleepers(mark), timeout=3, what="the grandchild's end")
        assert json.loads(out.stdout)["namespaces"]
    finally:
        for proc in _sleepers(mark):
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


@needs_namespaces
def test_host_unix_sockets_are_unreachable(workspace: Path, host_tmp: Path) -> None:
    """A socket in the host's /tmp (like ssh-agent's) and an abstract one (like D-Bus's)."""
    path = host_tmp / "agent.sock"
    abstract = f"\0aw-test-{secrets.token_hex(4)}"
    with socket.socket(socket.AF_UNIX) as on_disk, socket.socket(socket.AF_UNIX) as hidden:
        on_disk.bind(str(path))
        os.chmod(path, 0o777)
        on_disk.listen()
        hidden.bind(abstract)
        hidden.listen()
        code = f"""
        import socket
        for address in [{str(path)!r}, {abstract!r}]:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                try:
                    s.connect(address)
                    print("connected")
                except OSError as exc:
                    print(type(exc).__name__)
        """
        result = run(workspace, code)
    assert result.ok, result.output
    assert "connected" not in result.output
    assert result.output.split() == ["FileNotFoundError", "ConnectionRefusedError"]


HOLD = """
import sys, time
from pathlib import Path
from engine.tools.sandbox_user import claim_uid
claim = claim_uid(Path(sys.argv[1]))
print(claim.uid, flush=True)
sys.stdin.read()
"""


@needs_root
def test_user_ids_are_held_across_processes(tmp_path: Path) -> None:
    """A user id another process holds is never handed out (it once was: one's cleanup
    then SIGKILLed the other's program)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "rt")], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        held = int(holder.stdout.readline())
        ran = run_python("import os; print(os.getuid())", limits=Limits(timeout_s=5))
        assert ran.done.returncode == 0, ran.done.stderr
        assert ran.uid != held and int(ran.done.stdout) == ran.uid
    finally:
        holder.communicate("", timeout=10)


@needs_root
def test_concurrent_runs_do_not_kill_each_other(workspace: Path, tmp_path: Path) -> None:
    import threading

    results: dict[str, object] = {}
    slow = "import os, time\ntime.sleep(2)\nprint(os.getuid())"

    def first() -> None:
        results["slow"] = run_python(slow, limits=Limits(timeout_s=10), workspace=workspace)

    thread = threading.Thread(target=first)
    thread.start()
    wait_until(lambda: any(p.uids().real >= 61000 for p in psutil.process_iter()), timeout=5,
               what="the first run's start")  # fmt: skip
    quick = run_python("import os; print(os.getuid())", limits=Limits(timeout_s=5))
    thread.join()
    slow_run = results["slow"]
    assert quick.done.returncode == 0
    assert slow_run.done.returncode == 0, slow_run.done  # type: ignore[attr-defined]
    assert int(slow_run.done.stdout) != int(quick.done.stdout)  # type: ignore[attr-defined]


WITHOUT_NAMESPACES = """
import ctypes, json, os, sys
from pathlib import Path
# imported while still root: the interpreter's own folders may be readable only by root
# (a Python under a 0700 /root), and an import after the drop below would not find them
from engine.tools.sandbox import Limits, SandboxRefused, run_python
libc = ctypes.CDLL(None, use_errno=True)
os.setgroups([]); os.setresgid(60500, 60500, 60500); os.setresuid(60500, 60500, 60500)
libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: our /proc/self files are ours again
depth = 0
while libc.unshare(0x10000000) == 0:  # nest user namespaces to the kernel's limit (32)
    depth += 1
    for name, text in (("setgroups", "deny"), ("uid_map", "60500 60500 1"),
                       ("gid_map", "60500 60500 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
out = {"depth": depth}
for network in (False, True):
    try:
        ran = run_python("print('ran')", scratch=Path(sys.argv[1]) / str(network),
                         limits=Limits(timeout_s=5, network=network))
        out[str(network)] = [ran.isolation.namespaces, ran.isolation.notice(), ran.done.stdout]
    except SandboxRefused as exc:
        out[str(network)] = ["refused", str(exc)]
print(json.dumps(out), flush=True)
"""


@needs_root
@needs_namespaces
def test_a_network_that_cannot_be_cut_off_is_refused(tmp_path: Path) -> None:
    """Where no namespace can be made (here: user namespaces nested to the kernel's
    limit, as an ordinary user), `network: false` is refused, not run with the network,
    and `network: true` runs with a notice that nothing is isolated."""
    probe = subprocess.run(
        [sys.executable, "-c", "import hashlib, json"], user=60500, group=60500,
        capture_output=True, timeout=30, check=False, cwd="/",
    )  # fmt: skip
    if probe.returncode != 0:  # e.g. a Python installed under a 0700 /root
        pytest.skip("an ordinary user cannot run this Python (its folders are not readable)")
    folder = Path(tempfile.mkdtemp(prefix="aw-nons-"))
    try:
        os.chmod(folder, 0o777)
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
               "AGENT_WORKBENCH_HOME": str(folder / "home")}  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-c", WITHOUT_NAMESPACES, str(folder)], capture_output=True,
            text=True, timeout=60, env=env, check=False, cwd=folder,
        )  # fmt: skip
        assert out.returncode == 0 and out.stdout, out.stderr
        report = json.loads(out.stdout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert report["False"][0] == "refused"
    assert "the network could not be cut off here" in report["False"][1]
    namespaces, notice, printed = report["True"]
    assert not namespaces and "no namespaces here" in notice and printed == "ran\n"


@needs_namespaces
def test_an_interpreter_in_the_hosts_tmp_still_runs(tmp_path: Path) -> None:
    """A venv under /tmp (a CI clone in /tmp, say) is bound on top of the sandbox's own
    /tmp, not hidden below it (the program failed with exit status 127)."""
    venv = Path(tempfile.mkdtemp(prefix="aw-venv-", dir="/tmp"))
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", "--symlinks", str(venv)],
            check=True,
            timeout=60,
        )
        python = venv / "bin" / "python"
        ran = run_python("print(6 * 7)", limits=Limits(timeout_s=20), interpreter=str(python))
        assert ran.done.returncode == 0, ran.done.stderr
        assert ran.done.stdout.strip() == "42"
    finally:
        shutil.rmtree(venv, ignore_errors=True)
