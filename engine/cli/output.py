"""How every command talks to the terminal: one JSON object on stdout, the rest on stderr.

`--json` output is exactly one JSON object on stdout (UTF-8, not ASCII-escaped); progress
and human-readable notices go to stderr. Errors the user can act on exit with status 2.

Text for people (`out`, `err`) may hold what tools, models and files said: its control
characters are shown escaped (engine.printable), so nothing a stranger wrote can drive
the terminal. The JSON object is left byte-faithful (JSON escapes control characters).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from engine.errors import WorkbenchError
from engine.printable import printable

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class CommandInputError(WorkbenchError):
    """A command-line value that is not what the command accepts."""


def emit_json(data: Any) -> None:
    """The command's one JSON object, on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def out(text: str = "", end: str = "\n") -> None:
    """The command's result as text, on stdout (control characters escaped)."""
    sys.stdout.write(printable(text) + end)
    sys.stdout.flush()


def err(text: str = "", end: str = "\n") -> None:
    """Progress and notices for the person, on stderr (control characters escaped)."""
    sys.stderr.write(printable(text) + end)
    sys.stderr.flush()


def json_object(text: str, option: str) -> dict[str, Any]:
    """An option's value that must be a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CommandInputError(f"{option} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise CommandInputError(f'{option} must be a JSON object, like \'{{"expression": "1+1"}}\'')
    return value
