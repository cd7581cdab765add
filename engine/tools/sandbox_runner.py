"""Runs the program on standard input like a notebook cell, inside the sandbox.

Run with its text as `python -I -c RUNNER`, never imported; the supervisor has already
built the sandbox around it (namespaces, user id, limits). When the program's last
statement is an expression, its value is printed (unless None), so `2 + 2` shows `4`.
Errors print a traceback of the program's own lines (status 1).
"""

from __future__ import annotations

import ast
import builtins
import sys
import traceback


def main() -> int:
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
