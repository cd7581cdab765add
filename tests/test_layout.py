"""The test tree's own rules: test modules and conftest files never import each other.

Shared helper functions live in tests/helpers/ (one module per concept); shared fixtures
live in the nearest conftest.py, where pytest finds them without an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every module `path` imports, relative imports spelled `.x`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found += [
                (node.lineno, f"{base}.{alias.name}".replace("..", ".")) for alias in node.names
            ]
            found.append((node.lineno, base))
    return found


def _allowed(name: str) -> bool:
    if name.startswith("."):
        return False  # relative imports reach a sibling test module or conftest
    if name != "tests" and not name.startswith("tests."):
        return True
    return name == "tests" or name == "tests.helpers" or name.startswith("tests.helpers.")


def test_tests_import_only_tests_helpers() -> None:
    checked = sorted(TESTS.rglob("*.py"))  # test modules, conftest files and helpers alike
    assert len(checked) > 50  # the walk really found the suite
    bad = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {name}"
        for path in checked
        for line, name in _imported_modules(path)
        if not _allowed(name)
    ]
    assert bad == [], "move shared code to tests/helpers/ or a conftest fixture:\n" + "\n".join(bad)
