"""The JSON editor's checks: JSON syntax, the JSON Schema meta-schema, an instance schema."""

from __future__ import annotations

from gui.widgets.json_edit import problem


def test_json_syntax_errors_say_where() -> None:
    found = problem('{"type": "object",', True, None)
    assert found is not None and found.startswith("not JSON") and "line 1" in found


def test_schema_mode_checks_the_meta_schema() -> None:
    assert (
        problem('{"type": "object", "properties": {"q": {"type": "string"}}}', True, None) is None
    )
    found = problem('{"type": "object", "properties": {"q": {"type": 5}}}', True, None)
    assert found is not None and "not a valid JSON Schema at properties/q/type" in found
    assert "is an object" in (problem("[]", True, None) or "")


def test_instance_schema() -> None:
    env = {"type": "object", "additionalProperties": {"type": "string"}}
    assert problem('{"A": "1"}', False, env) is None
    assert problem('{"A": 1}', False, env) == "[A]: 1 is not of type 'string'"
