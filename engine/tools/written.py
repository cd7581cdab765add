"""Argument grammars: how a tool's arguments are written, beyond their JSON types.

A tool may declare, per argument, extra JSON Schema keywords (`pattern`, `enum`) that the
step grammar (engine.agent.grammar) merges into the argument's schema, so a constrained
model cannot write an argument the tool is sure to refuse: the calculator's expression is
arithmetic, a file path is one of the workspace's files. They are grammar-only: a direct
call (or an unconstrained run) is still checked by the tool itself, which stays the
authority.

Regular expressions cannot count, so nesting is bounded: `NESTING` levels of brackets in
arithmetic, enough for everyday arithmetic (a deeper expression is refused by the
grammar, not by the calculator).

Python code has no argument grammar: any pattern on a JSON string argument that holds
quotes, backslashes and newlines (balanced brackets even one level deep, closed strings,
a required print()) cost 6-10 ms per token in llguidance on Gemma's 262k vocabulary
(scripts/bench_grammar.py, shared 2-core Xeon), against ~0.5-2 ms for the whole mask
without it: ten times the 1 ms budget. A program that does not run comes back as an
error observation, and the retry policy makes the next step act on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

#: Bracket levels the arithmetic pattern allows (3 costs ~100 ms to compile per step on
#: a 262k-token vocabulary, 2 about 17 ms).
NESTING = 2
#: More workspace paths than this: a path pattern instead of an enumeration.
MAX_ENUM_PATHS = 100

#: Per argument, JSON Schema keywords for the grammar; computed at step time.
Written = Callable[[], dict[str, dict[str, Any]]]

_NUMBER = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_SPACE = " ?"


def arithmetic_pattern(functions: Iterable[str], constants: Iterable[str]) -> str:
    """An anchored regex for an arithmetic expression: numbers and constants joined by
    + - * / // % ** ^, unary signs, parentheses and calls of `functions` (arguments
    separated by commas), at most NESTING brackets deep, single spaces between tokens."""
    funcs = "|".join(sorted((re.escape(f) for f in functions), key=len, reverse=True))
    consts = "|".join(sorted((re.escape(c) for c in constants), key=len, reverse=True))
    op = rf"{_SPACE}(?:\*\*|//|[-+*/%^]){_SPACE}"
    unary = rf"(?:[-+]{_SPACE})*"
    leaf = rf"(?:{_NUMBER}|(?:{consts}))" if consts else _NUMBER
    expr = f"{unary}{leaf}(?:{op}{unary}{leaf})*"
    for _ in range(NESTING):
        inner = rf"{expr}(?:{_SPACE},{_SPACE}{expr})*"
        group = rf"(?:(?:{funcs})?\({_SPACE}{inner}{_SPACE}\))" if funcs else rf"\({inner}\)"
        term = f"(?:{leaf}|{group})"
        expr = f"{unary}{term}(?:{op}{unary}{term})*"
    return f"^{_SPACE}{expr}{_SPACE}$"


#: A relative path inside the workspace: no leading slash, no backslash, no "..".
PATH_PATTERN = r"^(?:[A-Za-z0-9_\-][A-Za-z0-9_\-]*\.?)(?:[A-Za-z0-9_\- ./]*[A-Za-z0-9_\-])?$"


def _relative(workspace: Path, files: bool, folders: bool) -> list[str]:
    """Workspace entries (sorted, symlinks and hidden entries skipped), or [] if too many."""
    found: list[str] = ["."] if folders else []
    root = workspace.resolve()
    if not root.is_dir():
        return found
    for item in sorted(root.rglob("*")):
        rel = item.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or item.is_symlink():
            continue
        if (files and item.is_file()) or (folders and item.is_dir()):
            found.append(rel.as_posix())
        if len(found) > MAX_ENUM_PATHS:
            return []
    return found


def workspace_paths(workspace: Path, arguments: dict[str, str]) -> Written:
    """Path arguments written as one of the workspace's paths, listed at step time.

    `arguments` maps an argument to what it names: "file", "folder" or "any". When the
    workspace has no such entry or more than MAX_ENUM_PATHS, the argument gets the
    relative-path pattern instead (which the tool's own checks back up)."""

    def written() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, kind in arguments.items():
            paths = _relative(workspace, files=kind != "folder", folders=kind != "file")
            out[name] = {"enum": paths} if paths else {"pattern": PATH_PATTERN}
        return out

    return written


#: What files.search looks for: one to three words, no digits (a guessed value finds
#: nothing; the tool matches a line holding every word, so a phrase narrows the search).
SEARCH_PATTERN = r"^[A-Za-z][A-Za-z'_-]{1,20}(?: [A-Za-z][A-Za-z'_-]{0,20}){0,2}$"


def merged(*parts: Written) -> Written:
    def written() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for part in parts:
            out.update(part())
        return out

    return written


def static(keywords: dict[str, dict[str, Any]]) -> Written:
    return lambda: {k: dict(v) for k, v in keywords.items()}
