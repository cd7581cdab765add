"""Session files: round trip, list, delete, migrations, and clear errors for bad files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine.telemetry import session_file
from engine.telemetry.records import EventRecord, SpanRecord
from engine.telemetry.session_file import (
    ProfileSession,
    RunRecord,
    SampleSeries,
    SessionFileError,
)


def _session(name: str = "s") -> ProfileSession:
    run = RunRecord(
        0,
        "r",
        "generation",
        0.0,
        1.0,
        [EventRecord("token", 0.5, 0, 0, {"text": "a"})],
        [SpanRecord("run", "run", 0, 0, 0.0, 1.0)],
        {"ttft_ms": 5.0},
        provider={"active": "cpu"},
    )
    samples = [SampleSeries("system", [{"name": "cpu", "unit": "%"}], [0.0], [[float("nan")]])]
    return ProfileSession(name, "2026-11-24T12:00:00+00:00", 1.0, {"cpu": "x"}, [run], samples)


def test_round_trip_list_delete() -> None:
    path = session_file.save(_session("first run"))
    assert path.name == "20261124T120000-first-run.awprof.json"
    twin = session_file.save(_session("first run"))  # same name, same second
    assert twin.name == "20261124T120000-first-run-2.awprof.json" and path.is_file()
    session_file.delete(twin)
    doc = json.loads(path.read_text())
    assert doc["format"] == "agent-workbench-profile" and doc["version"] == session_file.VERSION
    loaded = session_file.load(path.name)  # by file name in sessions/
    assert (
        loaded.runs[0].events[0].data == {"text": "a"}
        and loaded.runs[0].provider["active"] == "cpu"
    )
    assert loaded.samples[0].values == [[None]]  # NaN is stored as null (strict JSON)
    assert session_file.load(path.name.removesuffix(session_file.SUFFIX)).name == "first run"
    assert [r["name"] for r in session_file.list_sessions()] == ["first run"]
    session_file.delete(path)
    assert not path.exists() and session_file.list_sessions() == []


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "x.awprof.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "agent-workbench-profile", "vers', "not readable JSON"),
        ("[1, 2]", "not an Agent Workbench profiling session"),
        ({"format": "something-else", "version": 1}, "not an Agent Workbench profiling session"),
        ({"format": "agent-workbench-profile"}, "no valid format version"),
        ({"format": "agent-workbench-profile", "version": 99}, "newer than this Agent Workbench"),
        ({"format": "agent-workbench-profile", "version": 1, "runs": []}, "bad or missing field"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, content: Any, message: str) -> None:
    with pytest.raises(SessionFileError, match=message):
        session_file.load(_write(tmp_path, content))


def test_missing_session_says_where_to_look() -> None:
    with pytest.raises(SessionFileError, match="profile list"):
        session_file.load("nope")


def test_a_corrupt_file_is_listed_with_its_error() -> None:
    good = session_file.save(_session())
    (good.parent / "broken.awprof.json").write_text("{")
    rows = {r["file"]: r for r in session_file.list_sessions()}
    assert "not readable JSON" in rows["broken.awprof.json"]["error"] and "name" in rows[good.name]


def test_delete_refuses_files_that_are_not_sessions(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("mine")
    with pytest.raises(SessionFileError, match="not a profiling session file"):
        session_file.delete(other)
    assert other.read_text() == "mine"


def test_migrations_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _session().to_dict()
    doc["version"] = 1
    doc.pop("extra")
    path = _write(tmp_path, doc)

    def one_to_two(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "extra": {"migrated": True}}

    monkeypatch.setattr(session_file, "KIND", replace(session_file.KIND, version=2))
    monkeypatch.setitem(session_file.MIGRATIONS, 1, one_to_two)
    assert session_file.load(path).extra == {"migrated": True}
    monkeypatch.setattr(session_file, "KIND", replace(session_file.KIND, version=3))  # no 2 -> 3
    with pytest.raises(SessionFileError, match="no migration"):
        session_file.load(path)


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SessionFileError, match=r"cannot write the profiling session.*--out"):
        session_file.save(_session(), blocker / "s.awprof.json")
    assert blocker.read_text() == "not a folder"
