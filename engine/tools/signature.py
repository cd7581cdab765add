"""A JSON Schema for a function's arguments, from its type hints and docstring.

The docstring's first paragraph is the tool's description; an ``Args:`` section
(Google style, ``name: text``) describes each argument.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

_SIMPLE: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
}


def _schema_for(hint: Any) -> dict[str, Any]:
    if hint is inspect.Parameter.empty or hint is Any:
        return {}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        if len(kept) == 1:
            return _schema_for(kept[0])
        return {"anyOf": [_schema_for(a) for a in kept]}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        schema: dict[str, Any] = {"type": "array"}
        if args and args[0] is not Ellipsis:
            schema["items"] = _schema_for(args[0])
        return schema
    if origin is dict:
        return {"type": "object"}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    raise TypeError(f"no JSON Schema for the type {hint!r}; use str, int, float, bool, list, dict")


def _arg_docs(doc: str) -> dict[str, str]:
    found: dict[str, str] = {}
    match = re.search(r"^\s*(Args|Arguments|Parameters):\s*$", doc, re.MULTILINE)
    if not match:
        return found
    current = None
    for line in doc[match.end() :].splitlines():
        if not line.strip():
            continue
        item = re.match(r"^\s{2,}(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", line)
        if item:
            current = item.group(1)
            found[current] = item.group(3).strip()
        elif current and line.startswith(" " * 6):
            found[current] = f"{found[current]} {line.strip()}".strip()
        elif not line.startswith(" "):
            break
    return found


def schema_from_function(
    function: Callable[..., Any], *, skip: Iterable[str] = ()
) -> tuple[str, dict[str, Any]]:
    """(description, JSON Schema of the arguments) of a typed function."""
    doc = inspect.getdoc(function) or ""
    description = " ".join(doc.split("\n\n", 1)[0].split()) if doc else function.__name__
    described = _arg_docs(doc)
    hints = typing.get_type_hints(function)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(function).parameters.items():
        if name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        prop = _schema_for(hints.get(name, param.annotation))
        if name in described:
            prop["description"] = described[name]
        if param.default is param.empty:
            required.append(name)
        elif param.default is not None:
            prop["default"] = param.default
        properties[name] = prop
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return description, schema
