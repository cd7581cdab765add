"""JSON Schema errors in words: where (the path), what is wrong, and what is allowed.

A schema may word its own errors with `x-message`: a phrase that follows the field's name
("must be a positive number of seconds"), either one for every failure of that schema or
a mapping from the failing keyword ("type", "minItems", ... or "*") to a phrase; `{value!r}`
in it is the value found. An error inside a worded schema (a value of `env`, an item of
`command`) is reported at the worded schema's field. `x-unknown` on an object schema is
advice added when it meets a key it does not know. Validators ignore both keywords.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an instance, at `path` (keys and list indexes from its root)."""

    path: Path
    message: str  # the schema's own phrase when `worded`, else jsonschema's sentence
    allowed: str = ""  # what is allowed there, in words ("" when the message says it)
    keyword: str = ""  # the failing schema keyword ("additionalProperties", "required", ...)
    worded: bool = False
    key: str = ""  # the missing key of a "required" problem

    @property
    def field(self) -> str:
        return field_name(self.path)


def field_name(path: Path) -> str:
    """`tools[0].settings.max_bytes`; `(top level)` for the root."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top level)"


def allowed_words(schema: Any, keyword: str) -> str:
    """What a schema allows, in words, for an error of `keyword`."""
    sub = schema if isinstance(schema, dict) else {}
    if keyword == "additionalProperties":
        props = sorted(sub.get("properties", {}))
        hint = sub.get("x-unknown", "")
        words = f"allowed keys: {', '.join(props)}" if props else ""
        return "; ".join(w for w in (words, hint) if w)
    if "enum" in sub:
        return "allowed: " + ", ".join(json.dumps(v) for v in sub["enum"])
    if "const" in sub:
        return f"allowed: {json.dumps(sub['const'])}"
    if "type" in sub:
        kind = sub["type"]
        return f"expected {' or '.join(kind) if isinstance(kind, list) else kind}"
    return ""


def problems(schema: dict[str, Any], instance: Any) -> list[Problem]:
    """Every problem of `instance` against `schema`, sorted by path, one per field."""
    validator = jsonschema.Draft202012Validator(schema)
    found: dict[Path, Problem] = {}
    for error in validator.iter_errors(instance):
        problem = _problem(validator, error, instance)
        kept = found.get(problem.path)
        if kept is None or (problem.worded and not kept.worded):
            found[problem.path] = problem
    return [found[path] for path in sorted(found, key=lambda p: list(map(str, p)))]


def _problem(
    validator: jsonschema.Draft202012Validator, error: jsonschema.ValidationError, instance: Any
) -> Problem:
    path: Path = tuple(error.absolute_path)
    if error.validator in ("if", "oneOf", "anyOf", "allOf") and error.context:
        error = min(error.context, key=lambda e: len(list(e.path)))
        path += tuple(error.path)
    keyword = str(error.validator)
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = sorted(str(k) for k in error.instance if k not in known)
        if extra:
            return Problem(
                (*path, extra[0]),
                f"unknown key {extra[0]!r}",
                allowed_words(error.schema, keyword),
                keyword,
            )
    if keyword == "required" and isinstance(error.instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [str(k) for k in required if k not in error.instance]
        return Problem(path, error.message, "", keyword, key=missing[0] if missing else "")
    worded = _worded(validator, error.schema, instance, path, keyword)
    if worded is not None:
        depth, phrase = worded
        value = _at(instance, path[:depth])
        return Problem(path[:depth], phrase.format(value=value), "", keyword, worded=True)
    return Problem(path, error.message, allowed_words(error.schema, keyword), keyword)


def _worded(
    validator: jsonschema.Draft202012Validator,
    failed: Any,
    instance: Any,
    path: Path,
    keyword: str,
) -> tuple[int, str] | None:
    """The failing schema's `x-message` for `keyword`, else the deepest one along `path`."""
    own = _words(failed, keyword)
    if own is not None:
        return len(path), own
    levels = list(_schemas_along(validator, instance, path))
    for depth in range(len(path) - 1, 0, -1):
        for schema in levels[depth]:
            words = _words(schema, "*")
            if words is not None:
                return depth, words
    return None


def _words(schema: Any, keyword: str) -> str | None:
    words = schema.get("x-message") if isinstance(schema, dict) else None
    if isinstance(words, dict):
        words = words.get(keyword, words.get("*"))
    return words if isinstance(words, str) else None


def _schemas_along(
    validator: jsonschema.Draft202012Validator, instance: Any, path: Path
) -> Iterator[list[dict[str, Any]]]:
    """The schemas that apply at each step of `path` (the root's first)."""
    level = _expand(validator, validator.schema, instance)
    node = instance
    yield level
    for key in path:
        child = _at(node, (key,))
        below: list[dict[str, Any]] = []
        for schema in level:
            sub: Any = None
            if isinstance(key, str) and key in schema.get("properties", {}):
                sub = schema["properties"][key]
            elif isinstance(key, str) and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            elif isinstance(key, int) and isinstance(schema.get("items"), dict):
                sub = schema["items"]
            if sub is not None:
                below += _expand(validator, sub, child)
        level, node = below, child
        yield level


def _expand(
    validator: jsonschema.Draft202012Validator, schema: Any, instance: Any
) -> list[dict[str, Any]]:
    """`schema` and the subschemas that apply to `instance` through $ref, allOf, if."""
    if not isinstance(schema, dict):
        return []
    out = [schema]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = validator.schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        out += _expand(validator, target, instance)
    for sub in schema.get("allOf", ()):
        out += _expand(validator, sub, instance)
    if "if" in schema:
        branch = "then" if validator.evolve(schema=schema["if"]).is_valid(instance) else "else"
        out += _expand(validator, schema.get(branch), instance)
    return out


def _at(instance: Any, path: Path) -> Any:
    for key in path:
        try:
            instance = instance[key]
        except (KeyError, IndexError, TypeError):
            return None
    return instance
