"""Run Python code in a separate, limited process that leaves nothing behind.

What it does (POSIX; Linux is where it is tested):

- `python -I` (isolated mode: no PYTHON* variables, no user site, no current folder on
  the path) in a scratch folder, with an environment built from nothing: the data home
  (`AGENT_WORKBENCH_HOME`) and every other variable of the app are not passed.
- Limits through `setrlimit`: address space (memory), CPU seconds, number of processes
  (fork bombs), file size, no core dumps; a wall-clock time limit on top.
- When the app runs as root (where `RLIMIT_NPROC` is ignored and limits could be raised
  again), the code runs under an unused user id of its own, so the limits hold, the files
  of the app's user are as closed to it as to any other user, and everything it started
  can be killed at once.
- A supervisor process (`sandbox_supervisor.py`) adopts every orphan and kills the whole
  tree when the code ends or runs out of time; the app then sweeps what could remain.

- Unless `network` is allowed, the program runs in a new user + network namespace with no
  usable interface (Linux, where unprivileged namespaces are allowed; see the runner).

What it does not do: it is not a container. The code can read any file the sandbox user
can read (world-readable files; all of the user's files when not running as root) and use
up to its limits of CPU and memory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.progress import CancelToken
from engine.tools.process import Finished, kill_group, run_process
from engine.tools.sandbox_user import (
    MARKER,
    claim_uid,
    give_scratch,
    leftovers,
    release_uid,
    sweep,
    user_process_count,
)

# Passed with -c, so the sandbox user needs no access to where the app is installed.
SUPERVISOR = Path(__file__).with_name("sandbox_supervisor.py").read_text(encoding="utf-8")
RUNNER = Path(__file__).with_name("sandbox_runner.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    memory_mb: int = 512
    max_processes: int = 16
    max_output_bytes: int = 100_000
    max_file_mb: int = 64
    network: bool = False


def _limiter(limits: Limits, nproc: int) -> object:
    import resource

    memory = limits.memory_mb * 1024 * 1024
    cpu = int(limits.timeout_s) + 2
    size = limits.max_file_mb * 1024 * 1024

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _environment(scratch: Path, token: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
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


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the supervisor to kill the tree (SIGTERM), then kill its group regardless."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=3.0)
    kill_group(proc)


def run_python(
    code: str,
    *,
    scratch: Path,
    limits: Limits,
    cancel: CancelToken | None = None,
    interpreter: str | None = None,
) -> tuple[Finished, str, int | None]:
    """Run `code`; returns how it ended, the run's mark and the user id it ran as."""
    python = interpreter or sys.executable
    token = secrets.token_hex(8)
    scratch.mkdir(parents=True, exist_ok=True)
    env = _environment(scratch, token)
    child = [python, "-I", "-X", "utf8", "-c", RUNNER]
    if not limits.network:
        child.append("--no-network")
    if os.name != "posix":
        done = run_process(
            child,
            stdin=code.encode(),
            cwd=scratch,
            env=env,
            timeout_s=limits.timeout_s,
            max_output_bytes=limits.max_output_bytes,
            cancel=cancel,
        )
        return done, token, None
    uid = claim_uid() if os.geteuid() == 0 else None
    try:
        options: dict[str, object]
        if uid is not None:
            give_scratch(scratch, uid)
            nproc = limits.max_processes + 2
            options = {"user": uid, "group": uid, "extra_groups": []}
        else:
            nproc = user_process_count() + limits.max_processes + 2
            options = {}
        options["preexec_fn"] = _limiter(limits, nproc)
        flag = ["--dedicated"] if uid is not None else []
        argv = [python, "-I", "-c", SUPERVISOR, *flag, "--", *child]
        done = run_process(
            argv,
            stdin=code.encode(),
            cwd=scratch,
            env=env,
            timeout_s=limits.timeout_s,
            max_output_bytes=limits.max_output_bytes,
            cancel=cancel,
            popen_options=options,
            stop=_stop,
            after=lambda proc: sweep(token, uid),
        )
    finally:
        if uid is not None:
            deadline = time.monotonic() + 2.0
            while leftovers(token, uid) and time.monotonic() < deadline:
                sweep(token, uid)
                time.sleep(0.05)
            release_uid(uid)
    return done, token, uid


def remove_scratch(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
