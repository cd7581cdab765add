"""Who the sandboxed program runs as, and finding what it left running.

As root, each run gets an unused user id (no account, no process) so `RLIMIT_NPROC`
applies, the app user's files are closed to it, and `kill(-1)` from that id stops all it
started. As an ordinary user, the run's processes carry a marker in their environment.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import psutil

MARKER = "AW_SANDBOX_RUN"
UID_RANGE = range(61000, 62000)

_taken: set[int] = set()
_lock = threading.Lock()


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


def claim_uid() -> int:
    """An unused user id (no account, no process) for one sandboxed run."""
    with _lock:
        used = _used_uids() | _taken
        for uid in UID_RANGE:
            if uid not in used and not _known(uid):
                _taken.add(uid)
                return uid
    raise OSError("no free user id for the Python sandbox")


def release_uid(uid: int) -> None:
    with _lock:
        _taken.discard(uid)


def give_scratch(folder: Path, uid: int) -> None:
    """Give the scratch folder to the sandbox user: only what earlier runs made there, or
    plain files of ours with one link (never a hard link a run planted to a file elsewhere)."""
    me = os.geteuid()

    def ours(path: str) -> bool:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return False
        return info.st_uid in UID_RANGE or (
            info.st_uid == me and (stat.S_ISDIR(info.st_mode) or info.st_nlink == 1)
        )

    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if ours(path):
                    os.chown(path, uid, uid, follow_symlinks=False)
    os.chown(folder, uid, uid, follow_symlinks=False)


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
