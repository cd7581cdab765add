"""engine.documents: the versioned JSON files (profiling sessions, result sets) share one
reader and writer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from engine.documents import DocumentKind
from engine.errors import WorkbenchError


class ThingError(WorkbenchError):
    pass


def _kind(tmp_path: Path, version: int = 2) -> DocumentKind:
    return DocumentKind(
        format="thing",
        version=version,
        suffix=".thing.json",
        what="thing",
        error=ThingError,
        folder=lambda: tmp_path,
        list_command="thing list",
        migrations={1: lambda d: {**d, "new": True}},
    )


def test_write_read_and_migrate(tmp_path: Path) -> None:
    kind = _kind(tmp_path)
    path = kind.new_path("2026-12-04T16:30:00+00:00", "my run/é")
    assert path.name == "20261204T163000-my-run.thing.json"
    kind.write({"format": "thing", "version": 1, "text": "é"}, path)
    assert not list(tmp_path.glob(".*.tmp"))
    assert "é" in path.read_text(encoding="utf-8")  # UTF-8, not escaped
    found, doc = kind.read(path.name)  # by name in the folder
    assert found == path and doc == {"format": "thing", "version": 2, "text": "é", "new": True}
    assert kind.new_path("2026-12-04T16:30:00+00:00", "my run/é").name.endswith("-2.thing.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not readable JSON"),
        ('{"format": "other", "version": 1}', 'no "format": "thing"'),
        ('{"format": "thing", "version": 9}', "newer than this Agent Workbench reads"),
        ('{"format": "thing"}', "no valid format version"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "x.thing.json").write_text(content, encoding="utf-8")
    with pytest.raises(ThingError, match=message):
        _kind(tmp_path).read(tmp_path / "x.thing.json")


def test_missing_and_unwritable(tmp_path: Path) -> None:
    kind = _kind(tmp_path)
    with pytest.raises(ThingError, match="thing list"):
        kind.read("nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ThingError, match="cannot write the thing"):
        kind.write({"format": "thing"}, tmp_path / "file" / "x.thing.json")


def test_an_unusable_folder_is_the_kind_s_error(tmp_path: Path) -> None:
    def folder() -> Path:
        raise FileExistsError(17, "File exists", str(tmp_path / "sessions"))

    kind = replace(_kind(tmp_path), folder=folder)
    with pytest.raises(ThingError, match="cannot write the thing in the data home"):
        kind.new_path("2026-12-04T16:30:00", "x")
