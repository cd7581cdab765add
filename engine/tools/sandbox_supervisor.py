"""The first process of a Python sandbox: runs the child, then kills and reaps the rest.

Run with its text as `python -I -c SUPERVISOR [--dedicated] -- CHILD ARGV...`, never
imported. On Linux it makes itself a child subreaper, so every descendant that is orphaned
(even one that called setsid to leave the process group) is re-parented to it and can be
found and killed. When the child exits, or on SIGTERM (the time limit), everything left is
SIGKILLed and reaped. `--dedicated` means the sandbox runs under a user id of its own, so
`kill(-1)` stops every process of that user at once, fork bombs included.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from types import FrameType

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def children() -> list[int]:
    """Pids whose parent is this process (read from /proc)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[1]) == me:
            found.append(int(name))
    return found


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def clean_up(child: int, dedicated: bool) -> None:
    """SIGKILL every process left behind and reap it."""
    if dedicated:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)  # every process of the sandbox user but this one
    with contextlib.suppress(OSError):
        os.killpg(child, signal.SIGKILL)  # the child's group: all that did not leave it
    if not os.path.isdir("/proc"):
        return
    for _ in range(10_000):
        left = children()
        if not left:
            break
        for pid in left:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # a group it may lead (after setsid)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pid in left:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
    reap()


def main(argv: list[str]) -> int:
    dedicated = argv[:1] == ["--dedicated"]
    child_argv = argv[argv.index("--") + 1 :]
    become_subreaper()

    child = os.posix_spawn(child_argv[0], child_argv, dict(os.environ), setpgroup=0)

    def on_term(signum: int, frame: FrameType | None) -> None:
        clean_up(child, dedicated)
        os._exit(124)

    signal.signal(signal.SIGTERM, on_term)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    clean_up(child, dedicated)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
