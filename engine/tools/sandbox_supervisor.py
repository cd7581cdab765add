"""The first process of a Python sandbox: builds its walls, runs the child, leaves nothing.

Run with its text as `python -I -c SUPERVISOR CONFIG_JSON`, never imported (the sandbox
user needs no access to where the app is installed). CONFIG_JSON holds: `argv` (the
program to run), `uid` (the user id to drop to when started as root, else null),
`scratch` (the run's private folder), `workspace` (shown read-only, or null), `hide`
(folders that must not be visible: the data home), `binds` (folders the interpreter
needs, shown read-only), `network`, `tmp_mb`, `limits` (rlimits) and `report_fd` (where
one JSON line says what isolation the run really got).

On Linux, in this order:

1. `unshare` a mount, PID, IPC and UTS namespace, and a network namespace unless the
   network is allowed (as root directly; as an ordinary user inside a new user namespace
   that maps only the user's own id). When that is refused and the network was to be cut
   off, nothing runs: the report says why and the exit status is `REFUSED`.
2. Fork: the child is process 1 of the new PID namespace. When it ends, the kernel kills
   every process left in the namespace (setsid, an emptied environment or a double fork
   change nothing), so no process of the run can outlive it.
3. Process 1 builds a new root on a tmpfs: read-only binds of the system folders (`/usr`,
   `/etc`, `/lib*`, `/bin`, `/sbin`) and of the interpreter's folders, the scratch folder
   read-write at `/scratch`, the workspace read-only at `/workspace`, one size-limited
   tmpfs shared by `/tmp`, `/var/tmp` and `/dev/shm`, a few device files, a `/proc` of
   the new PID namespace; then `pivot_root` into it and detaches the old root. `/home`,
   `/root`, `/run`, the host's `/tmp`, the data home and every other folder are simply
   not there, and with them every filesystem socket (D-Bus, ssh-agent, X11).
4. It drops to the run's user id (root) or all capabilities (user namespace), sets
   `no_new_privs`, enters `/scratch` only then, applies the rlimits and runs the child;
   it reaps orphans until the child ends, and exits with the child's status.

The outer process (this one, outside the namespaces) waits for process 1 and on SIGTERM
(the time limit) kills it, which ends the whole namespace. Where namespaces cannot be made
and the network may be used, it falls back to the older model: drop the user id (root),
become a child subreaper and kill the descendants it can find.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys
from types import FrameType
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
# statvfs flags kept on a read-only remount (an unprivileged remount may not drop them)
KEPT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048 | 4096  # noatime, nodiratime, relatime

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

REFUSED = 125  # the sandbox could not be built as asked; the program did not run
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")

libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(number)}")


def mount(source: str | None, target: str, kind: str | None, flags: int, data: str = "") -> None:
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            kind.encode() if kind else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def report(fd: int, **fields: Any) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, (json.dumps(fields) + "\n").encode())


# --- namespaces -------------------------------------------------------------------------


def unshare(config: dict[str, Any]) -> str | None:
    """Enter the new namespaces; the reason when the system refuses them."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are Linux-only (this is {sys.platform})"
    if os.uname().machine not in PIVOT_ROOT:
        return f"pivot_root is not known on {os.uname().machine}"
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not config["network"]:
        flags |= CLONE_NEWNET
    uid, gid = os.getuid(), os.getgid()
    if uid == 0 and libc.unshare(flags) == 0:
        return None
    if libc.unshare(flags | CLONE_NEWUSER) != 0:
        return f"unshare: {os.strerror(ctypes.get_errno())}"
    inside = config["uid"] if uid == 0 and config["uid"] is not None else uid
    inside_gid = config["uid"] if uid == 0 and config["uid"] is not None else gid
    try:  # only our own id (or, as root, the run's id) exists inside
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{inside} {inside if uid == 0 else uid} 1"),
            ("gid_map", f"{inside_gid} {inside_gid if uid == 0 else gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    except OSError as exc:
        return f"user namespace id map: {exc.strerror}"
    return None


# --- the new root -----------------------------------------------------------------------


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash are written as \\ooo."""
    parts = field.split("\\")
    out = parts[0]
    for part in parts[1:]:
        out += chr(int(part[:3], 8)) + part[3:] if part[:3].isdigit() else "\\" + part
    return out


def readonly(target: str) -> None:
    """Make `target` and every mount below it read-only, keeping flags a remount must keep."""
    with open("/oldroot/proc/self/mountinfo") as handle:
        points = [_unescape(line.split()[4]) for line in handle]
    for point in points:
        if point == target or point.startswith(target.rstrip("/") + "/"):
            kept = os.statvfs(point).f_flag & KEPT_FLAGS
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def bind(source: str, target: str, *, writable: bool = False) -> None:
    """Bind `/oldroot/source` at `/newroot/target` (read-only unless `writable`)."""
    outside, inside = "/oldroot" + source, "/newroot" + target
    if os.path.isdir(outside):
        _mkdirs(inside)
    else:
        _mkdirs(os.path.dirname(inside))
        with open(inside, "a"):
            pass
    mount(outside, inside, None, MS_BIND | MS_REC)
    if writable:
        kept = os.statvfs(inside).f_flag & KEPT_FLAGS
        mount(None, inside, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | kept)
    else:
        readonly(inside)


def build_root(config: dict[str, Any], notes: list[str]) -> None:
    """Assemble the sandbox's file system and pivot into it (see the module's text)."""
    os.umask(0o022)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    os.chdir("/tmp")
    for name in ("newroot", "oldroot", "shared"):
        os.mkdir(name, 0o755)
    _check(libc.syscall(PIVOT_ROOT[os.uname().machine], b".", b"oldroot"), "pivot_root")
    os.chdir("/")
    mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")

    bound: list[str] = []
    for path in SYSTEM:
        outside = "/oldroot" + path
        if os.path.islink(outside):
            os.symlink(os.readlink(outside), "/newroot" + path)
        elif os.path.isdir(outside):
            bind(path, path)
            bound.append(path)
    # one tmpfs for /tmp, /var/tmp and /dev/shm: writes vanish with the run, and all of
    # them together count against one size limit (and against the memory of the run).
    # Mounted before the interpreter's folders: an interpreter (a venv) that lives in the
    # host's /tmp is then bound on top of it, not hidden below it.
    size = f"size={int(config['tmp_mb'])}m,mode=0755"
    mount("tmpfs", "/shared", "tmpfs", MS_NOSUID | MS_NODEV, size)
    for name in ("tmp", "var-tmp", "shm"):
        os.mkdir(f"/shared/{name}")
        os.chmod(f"/shared/{name}", 0o1777)
    for source, target in (("tmp", "/tmp"), ("var-tmp", "/var/tmp")):
        _mkdirs("/newroot" + target)
        mount(f"/shared/{source}", "/newroot" + target, None, MS_BIND)

    for path in sorted(set(config["binds"]), key=len):
        if not path.startswith("/") or any(path == b or path.startswith(b + "/") for b in bound):
            continue
        if os.path.isdir("/oldroot" + path):
            bind(path, path)
            bound.append(path)
    if config["network"]:  # name resolution may point into /run (systemd-resolved)
        real = os.path.realpath("/oldroot/etc/resolv.conf")
        if real.startswith("/oldroot/") and os.path.isfile(real):
            target = real[len("/oldroot") :]
            if not any(target.startswith(b + "/") for b in bound):
                bind(target, target)
    for path in config["hide"]:  # e.g. the data home, if it lies below a bound folder
        if os.path.isdir("/newroot" + path):
            mount("tmpfs", "/newroot" + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
                  "mode=0000,size=4k")  # fmt: skip

    bind(config["scratch"], "/scratch", writable=True)
    if config["workspace"]:
        workspace = config["workspace"].rstrip("/")
        bind(workspace, "/workspace")
        for path in config["hide"]:  # a workspace that holds the data home does not show it
            if path == workspace or path.startswith(workspace + "/"):
                inside = "/newroot/workspace" + path[len(workspace) :]
                if os.path.isdir(inside):
                    mount("tmpfs", inside, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
                          "mode=0000,size=4k")  # fmt: skip

    _mkdirs("/newroot/dev")
    mount("tmpfs", "/newroot/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        if os.path.exists("/oldroot/dev/" + name):  # a plain bind: device files must work
            with open("/newroot/dev/" + name, "a"):
                pass
            mount("/oldroot/dev/" + name, "/newroot/dev/" + name, None, MS_BIND)
    os.mkdir("/newroot/dev/shm")
    mount("/shared/shm", "/newroot/dev/shm", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, "/newroot/dev/" + name)
    readonly("/newroot/dev")  # the tmpfs of device names; /dev/shm below it stays writable
    mount(None, "/newroot/dev/shm", None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)

    _mkdirs("/newroot/proc")
    try:
        mount("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except SetupError as exc:
        notes.append(f"no /proc inside ({exc})")

    os.chdir("/newroot")
    _check(libc.syscall(PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


# --- giving up power --------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]  # fmt: skip


def drop(uid: int | None) -> None:
    """Become the run's user (as root) and keep no capability and no way to gain one."""
    if uid is not None and os.getuid() != uid:
        with contextlib.suppress(PermissionError):  # refused in a user namespace: none to drop
            os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "drop capabilities")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def apply_limits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        number = getattr(resource, name)
        resource.setrlimit(number, (value, value))


# --- running ----------------------------------------------------------------------------


def run_child(argv: list[str]) -> tuple[int, int]:
    """Start the program in its own process group; reap orphans until it ends."""
    child = os.fork()
    if child == 0:
        try:
            os.setpgid(0, 0)
            os.execve(argv[0], argv, dict(os.environ))
        finally:
            os._exit(127)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return child, 1
        if pid == child:
            return child, os.waitstatus_to_exitcode(status)


def init(config: dict[str, Any]) -> int:
    """Process 1 of the new PID namespace."""
    fd = config["report_fd"]
    notes: list[str] = []
    try:
        build_root(config, notes)
        drop(config["uid"])
        # set after the drop, which clears it: when the outer process dies, so does this
        _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent death signal")
        os.chdir("/scratch")  # only now, as the run's user
        os.environ.update(HOME="/scratch", TMPDIR="/tmp")
        if config["workspace"]:
            os.environ["WORKSPACE"] = "/workspace"
        apply_limits(config["limits"])
    except (SetupError, OSError) as exc:
        report(fd, error=f"the sandbox could not be set up: {exc}")
        return REFUSED
    report(fd, isolation="namespaces", network_cut=not config["network"], notes=notes)
    os.close(fd)
    _, code = run_child(config["argv"])
    return code if code >= 0 else 128 - code


def outer(config: dict[str, Any]) -> int:
    fd = config["report_fd"]
    why = unshare(config)
    if why is not None:
        if not config["network"]:
            report(fd, refused=f"the network could not be cut off here ({why})")
            return REFUSED
        report(fd, isolation="none", why=why, network_cut=False, notes=[])
        os.close(fd)
        return fallback(config)
    pid = os.fork()
    if pid == 0:
        code = REFUSED
        try:
            code = init(config)
        except BaseException as exc:  # noqa: BLE001 - said in the report, then gone
            report(fd, error=f"the sandbox could not be set up: {exc!r}")
        finally:
            os._exit(code)
    os.close(fd)
    stopped = []

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)  # process 1: the whole namespace goes with it

    signal.signal(signal.SIGTERM, on_term)
    _, status = os.waitpid(pid, 0)
    if stopped:
        return 124
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


# --- without namespaces -----------------------------------------------------------------


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


def clean_up(child: int, dedicated: bool) -> None:
    """SIGKILL every process left behind that can be found, and reap it."""
    if dedicated:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)  # every process of the sandbox user but this one
    with contextlib.suppress(OSError):
        os.killpg(child, signal.SIGKILL)
    if os.path.isdir("/proc"):
        for _ in range(10_000):
            left = children()
            if not left:
                break
            for pid in left:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            for pid in left:
                with contextlib.suppress(OSError):
                    os.waitpid(pid, 0)
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def fallback(config: dict[str, Any]) -> int:
    """The older model: own user id (root), subreaper, kill what can be found."""
    scratch = os.open(config["scratch"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    uid = config["uid"]
    if uid is not None and os.getuid() != uid:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if sys.platform.startswith("linux"):
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    os.fchdir(scratch)  # entered as the run's user, by the folder we created
    os.close(scratch)
    apply_limits(config["limits"])
    argv = config["argv"]
    child = os.posix_spawn(argv[0], argv, dict(os.environ), setpgroup=0)

    def on_term(signum: int, frame: FrameType | None) -> None:
        clean_up(child, uid is not None)
        os._exit(124)

    signal.signal(signal.SIGTERM, on_term)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    clean_up(child, uid is not None)
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    return outer(json.loads(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
