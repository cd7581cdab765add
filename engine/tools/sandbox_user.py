"""Who the sandboxed program runs as, and finding what it left running.

As root, each run gets a user id of its own (no account, no process, and held with a lock
file for as long as the run lasts, so two runs never share one) so `RLIMIT_NPROC`
applies, the app user's files are closed to it, and `kill(-1)` from that id stops all it
started and nothing else. As an ordinary user, the run's processes carry a marker in their
environment (used only where the sandbox has no PID namespace).
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil

MARKER = "AW_SANDBOX_RUN"
UID_RANGE = range(61000, 62000)
#: Where root keeps one lock file per user id it hands out: machine-wide, so two apps (or
#: two test runs with different data homes) never run code under the same id at once.
MACHINE_LOCKS = Path("/run/agent-workbench-sandbox")


def _used_uids() -> set[int]:
    used = set()
    for proc in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error, TypeError):
            used.add(proc.info["uids"].real)
    return used


def _known(uid: int) -> bool:
    import pwd  # POSIX only; this module is used only there

    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def private_folder(path: Path) -> Path:
    """`path` as a folder of ours, mode 0700: created if missing, refused if it is a link,
    someone else's, or open to others (so nothing can be planted in it)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise OSError(f"{path} is not a folder of this user; remove it and try again")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def lock_folder(runtime: Path) -> Path:
    """The folder of the user-id locks: machine-wide under /run when root can use it."""
    with contextlib.suppress(OSError):
        if Path("/run").is_dir():
            return private_folder(MACHINE_LOCKS)
    return private_folder(runtime / "uids")


class UidClaim:
    """A user id held for one run: an exclusive `flock` on its lock file, released by
    `release()` (or when the process ends). While it is held, no other run, in this
    process or another, gets the same id."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid, self._fd = uid, fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = -1


def _try_lock(folder: Path, uid: int) -> int | None:
    import fcntl  # POSIX only, like this module's use

    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(folder / f"{uid}.lock", flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim_uid(runtime: Path, *, wanted: int | None = None, wait_s: float = 0.0) -> UidClaim:
    """Hold a user id for one run: `wanted` (a kept scratch folder's owner; waits up to
    `wait_s` while another run holds it), else the first free id of `UID_RANGE` (no
    account, no process, no lock)."""
    folder = lock_folder(runtime)
    if wanted is not None:
        deadline = time.monotonic() + wait_s
        while (fd := _try_lock(folder, wanted)) is None:
            if time.monotonic() > deadline:
                raise OSError(
                    f"another Python call is still using this workspace's scratch folder "
                    f"(user id {wanted}); try again when it has finished"
                )
            time.sleep(0.05)
        return UidClaim(wanted, fd)
    used = _used_uids()
    for uid in UID_RANGE:
        if uid in used or _known(uid):
            continue
        fd = _try_lock(folder, uid)
        if fd is None:
            continue
        if uid in _used_uids():  # an older version without locks, or a leftover
            os.close(fd)
            continue
        return UidClaim(uid, fd)
    raise OSError("no free user id for the Python sandbox")


def sweep(token: str, uid: int | None) -> None:
    """Kill whatever still runs from this run: by user id when it had its own, else by mark."""
    if uid is not None:
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", "import os; os.kill(-1, 9)"],
            user=uid,
            group=uid,
            extra_groups=[],
            check=False,
            capture_output=True,
        )
        return
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(MARKER) == token:
                proc.kill()


def leftovers(token: str, uid: int | None) -> list[psutil.Process]:
    """Processes of a run that still run (not zombies), for checks and tests."""
    found = []
    for proc in psutil.process_iter(["uids", "status"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if (uid is not None and proc.info["uids"].real == uid) or (
                uid is None and proc.environ().get(MARKER) == token
            ):
                found.append(proc)
    return found


def user_process_count() -> int:
    me = os.getuid()
    count = 0
    for proc in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error, TypeError):
            count += proc.info["uids"].real == me
    return count
