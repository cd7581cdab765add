"""Runs the program on standard input like a notebook cell, inside the sandbox.

Run with its text as `python -I -c RUNNER [--no-network]`, never imported. With
`--no-network` it first moves into a new user and network namespace (Linux), where the
only interface is a loopback that is down: no connection leaves the sandbox, not even to
this computer's own services. When the system does not allow that, a note says so on
standard error and the program runs with the network.

When the program's last statement is an expression, its value is printed (unless None),
so `2 + 2` shows `4`. Errors print a traceback of the program's own lines (status 1).
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import os
import sys
import traceback

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def cut_network() -> str | None:
    """Enter new user + network namespaces; the reason when that is not possible."""
    if not sys.platform.startswith("linux"):
        return f"not available on {sys.platform}"
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return os.strerror(ctypes.get_errno())
    try:  # keep showing our own ids inside (else they read as 65534)
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                           ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    except OSError:
        pass
    return None


def main() -> int:
    if "--no-network" in sys.argv[1:]:
        why = cut_network()
        if why:
            sys.stderr.write(f"[sandbox: the network could not be cut off here: {why}]\n")
    source = sys.stdin.read()
    try:
        tree = ast.parse(source, "<program>")
    except SyntaxError:
        traceback.print_exc(limit=0)
        return 1
    last = None
    final = tree.body[-1] if tree.body else None
    if isinstance(final, ast.Expr):
        last = ast.Expression(final.value)
        tree.body.pop()
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(tree, "<program>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<program>", "eval"), namespace)
            if value is not None:
                sys.stdout.write(repr(value) + "\n")
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the program's error, shown to the model
        traceback.print_exception(
            type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
