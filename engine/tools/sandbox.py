"""Run Python code in a separate, limited, isolated process that leaves nothing behind.

On Linux (as root, or as an ordinary user where user namespaces are allowed) the program
runs in its own mount, PID, IPC, UTS and (unless `network` is allowed) network namespace,
built by `sandbox_supervisor.py`: it sees the system folders and the interpreter
read-only, its private scratch folder read-write at `/scratch` (its working folder), the
agent's workspace read-only at `/workspace`, and a private size-limited tmpfs on `/tmp`,
`/var/tmp` and `/dev/shm`. The data home, the user's home, `/run` and the host's `/tmp`
are not there. When its first process ends, every process of the run ends with it.

The scratch folder is always one the sandbox made itself in its runtime folder
(`<data home>/sandbox`, mode 0700), never a path inside the workspace: kept per workspace
(`scratch: workspace`) or new for each call (`scratch: temp`). Nothing that existed before
is ever handed to the sandbox's user.

Always: `python -I` with an environment built from nothing; `setrlimit` limits (address
space, CPU seconds, processes, file size, no core dumps) plus a wall-clock limit; as root,
a user id of its own for each run (`sandbox_user.claim_uid`, locked across processes).

Where namespaces cannot be made, a network that was to be cut off is refused (the call
fails with the reason: `SandboxRefused`), and with the network allowed the program runs
without file, process and socket isolation, and the result says so (`Isolation`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.paths import data_home
from engine.progress import CancelToken
from engine.tools.process import Finished, kill_group, run_process
from engine.tools.sandbox_user import (
    MARKER,
    UID_RANGE,
    UidClaim,
    claim_uid,
    leftovers,
    private_folder,
    sweep,
    user_process_count,
)

# Passed with -c, so the sandbox user needs no access to where the app is installed.
SUPERVISOR = Path(__file__).with_name("sandbox_supervisor.py").read_text(encoding="utf-8")
RUNNER = Path(__file__).with_name("sandbox_runner.py").read_text(encoding="utf-8")
REFUSED = 125  # the supervisor's status when it could not build the sandbox (nothing ran)


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    memory_mb: int = 512
    max_processes: int = 16
    max_output_bytes: int = 100_000
    max_file_mb: int = 64
    network: bool = False
    tmp_mb: int = 64  # /tmp, /var/tmp and /dev/shm together


@dataclass(frozen=True)
class Isolation:
    """What a run really got: namespaces (files, processes, sockets isolated) or not."""

    namespaces: bool
    network_cut: bool
    why: str = ""  # why there are no namespaces
    notes: tuple[str, ...] = ()

    def notice(self) -> str:
        """A line for the model and the user when the isolation is less than promised."""
        if self.namespaces:
            return "; ".join(self.notes)
        return (
            f"[sandbox: no namespaces here ({self.why}): the program ran without file, "
            "process and socket isolation]"
        )


@dataclass(frozen=True)
class SandboxRun:
    done: Finished
    token: str
    uid: int | None  # the user id it ran as (root), else None
    isolation: Isolation
    scratch: Path = field(default=Path())


class SandboxRefused(Exception):
    """The sandbox could not be built as asked (e.g. the network cannot be cut off)."""


def runtime_folder() -> Path:
    """`<data home>/sandbox`, mode 0700: scratch folders and (not root) nothing else."""
    return private_folder(data_home() / "sandbox")


def kept_scratch(workspace: Path) -> Path:
    """The scratch folder kept between calls for one workspace (not created here)."""
    key = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:20]
    return private_folder(runtime_folder() / "scratch") / key


def _limits(limits: Limits, nproc: int) -> dict[str, int]:
    return {
        "RLIMIT_AS": limits.memory_mb * 1024 * 1024,
        "RLIMIT_CPU": int(limits.timeout_s) + 2,
        "RLIMIT_NPROC": nproc,
        "RLIMIT_FSIZE": limits.max_file_mb * 1024 * 1024,
        "RLIMIT_CORE": 0,
    }


def _environment(scratch: Path, token: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),  # in namespaces the supervisor sets /scratch and /tmp
        "TMPDIR": str(scratch),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        MARKER: token,
    }
    if os.name == "nt":  # Windows' Python does not start well without it
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "C:\\Windows")
    return env


def _interpreter_folders(python: str) -> list[str]:
    """Folders the interpreter needs, shown read-only inside (links and their targets)."""
    found = {os.path.dirname(python), os.path.dirname(os.path.realpath(python))}
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        found |= {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    else:
        found.add(os.path.dirname(os.path.dirname(os.path.realpath(python))))
    return sorted(found | {os.path.realpath(path) for path in found})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the supervisor to end the run (SIGTERM), then kill its group regardless."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=3.0)
    kill_group(proc)


def _read_report(fd: int) -> dict[str, object]:
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(fd, 65536):
            data += chunk
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    try:
        return dict(json.loads(lines[-1])) if lines else {}
    except ValueError:
        return {}


def _prepare_scratch(scratch: Path | None) -> tuple[Path, int | None, bool]:
    """The scratch folder, the user id that owns it (kept, as root), and whether it is new.

    A folder that exists must be a real folder (not a link) made by the sandbox: owned by a
    sandbox user id (root) or by this user (not root). A new one is created 0700 here.
    """
    if scratch is None:
        folder = private_folder(runtime_folder() / "tmp")
        return Path(tempfile.mkdtemp(prefix="run-", dir=folder)), None, True
    try:
        scratch.mkdir(mode=0o700)
        return scratch, None, True
    except FileExistsError:
        pass
    info = os.lstat(scratch)
    import stat

    owner = info.st_uid
    mine = owner in UID_RANGE if os.geteuid() == 0 else owner == os.geteuid()
    if not stat.S_ISDIR(info.st_mode) or not mine:
        raise SandboxRefused(
            f"{scratch} was not made by the Python sandbox (a link, or someone else's "
            "folder); it is not used as a scratch folder"
        )
    return scratch, (owner if os.geteuid() == 0 else None), False


def run_python(
    code: str,
    *,
    scratch: Path | None = None,
    workspace: Path | None = None,
    limits: Limits,
    cancel: CancelToken | None = None,
    interpreter: str | None = None,
) -> SandboxRun:
    """Run `code` in `scratch` (created if missing; None: a new one, removed after) with
    `workspace` shown read-only. Raises `SandboxRefused` when the sandbox cannot be built
    as asked (nothing ran), `OSError` when the program cannot start."""
    python = interpreter or sys.executable
    token = secrets.token_hex(8)
    temporary = scratch is None
    scratch, owner, new = _prepare_scratch(scratch)
    env = _environment(scratch, token)
    child = [python, "-I", "-X", "utf8", "-c", RUNNER]
    try:
        if os.name != "posix":
            if not limits.network:
                raise SandboxRefused(
                    f"the network could not be cut off here (no namespaces on {sys.platform}); "
                    "allow it with the setting network: true"
                )
            done = run_process(
                child, stdin=code.encode(), cwd=scratch, env=env, timeout_s=limits.timeout_s,
                max_output_bytes=limits.max_output_bytes, cancel=cancel,
            )  # fmt: skip
            none = Isolation(False, False, f"not available on {sys.platform}")
            return SandboxRun(done, token, None, none, scratch)
        return _run_posix(code, python, child, env, scratch, owner, new, workspace, limits, cancel)
    finally:
        if temporary:
            remove_scratch(scratch)


def _run_posix(
    code: str,
    python: str,
    child: list[str],
    env: dict[str, str],
    scratch: Path,
    owner: int | None,
    new: bool,
    workspace: Path | None,
    limits: Limits,
    cancel: CancelToken | None,
) -> SandboxRun:
    claim: UidClaim | None = None
    if os.geteuid() == 0:
        wait = limits.timeout_s + 20.0
        claim = claim_uid(runtime_folder(), wanted=owner, wait_s=wait)
        if new:  # created by us a moment ago, empty: the only thing ever handed over
            os.chown(scratch, claim.uid, claim.uid, follow_symlinks=False)
    uid = claim.uid if claim else None
    try:
        nproc = limits.max_processes + 2
        if uid is None:
            nproc += user_process_count()
        read, write = os.pipe()
        config = {
            "argv": child,
            "uid": uid,
            "scratch": str(scratch),
            "workspace": str(workspace.resolve()) if workspace else None,
            "hide": sorted({str(data_home()), str(data_home().resolve())}),
            "binds": _interpreter_folders(python),
            "network": limits.network,
            "tmp_mb": limits.tmp_mb,
            "limits": _limits(limits, nproc),
            "report_fd": write,
        }
        argv = [python, "-I", "-c", SUPERVISOR, json.dumps(config)]
        report: dict[str, object] = {}

        def clean_up(proc: subprocess.Popen[bytes]) -> None:
            os.close(write)
            report.update(_read_report(read))
            os.close(read)
            if report.get("isolation") != "namespaces":
                sweep(env[MARKER], uid)

        done = run_process(
            argv, stdin=code.encode(), cwd=Path("/"), env=env, timeout_s=limits.timeout_s,
            max_output_bytes=limits.max_output_bytes, cancel=cancel,
            popen_options={"pass_fds": (write,)}, stop=_stop, after=clean_up,
        )  # fmt: skip
    finally:
        if claim is not None:
            deadline = time.monotonic() + 2.0
            while leftovers(env[MARKER], uid) and time.monotonic() < deadline:
                sweep(env[MARKER], uid)
                time.sleep(0.05)
            claim.release()
    if "refused" in report or "error" in report:
        raise SandboxRefused(str(report.get("refused") or report.get("error")))
    if not report and done.returncode == REFUSED:
        raise SandboxRefused(f"the sandbox could not be set up: {done.stderr.strip()[-500:]}")
    notes = report.get("notes")
    isolation = Isolation(
        namespaces=report.get("isolation") == "namespaces",
        network_cut=bool(report.get("network_cut")),
        why=str(report.get("why", "")),
        notes=tuple(str(note) for note in notes) if isinstance(notes, list) else (),
    )
    return SandboxRun(done, env[MARKER], uid, isolation, scratch)


def remove_scratch(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # never follows links (fd-based on Linux)


def probe() -> tuple[Isolation | None, str]:
    """What isolation the python tool really gets on this machine, by running it once:
    (the isolation with the network cut off, or None when refused; a line for people)."""
    try:
        run = run_python("pass", limits=Limits(timeout_s=10))
    except SandboxRefused as exc:
        return None, f"refuses network: false ({exc}); with network: true, no isolation"
    except OSError as exc:
        return None, f"cannot start ({exc})"
    if run.isolation.namespaces:
        who = f"own user id {run.uid}" if run.uid is not None else "this user, no capabilities"
        extra = f"; {'; '.join(run.isolation.notes)}" if run.isolation.notes else ""
        return run.isolation, f"namespaces: mount, pid, net, ipc, uts; {who}{extra}"
    return run.isolation, f"no namespaces ({run.isolation.why})"
