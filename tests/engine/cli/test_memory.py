"""`python main.py memory ...` and `model prepare --kind embedder`: JSON, errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "memory" / "corpus"


@pytest.fixture
def home(tmp_path: Path, default_embedder: Path) -> Path:
    home = tmp_path / "cli-home"
    home.mkdir()
    (home / "settings.toml").write_text(f'[memory]\nembedder = "{default_embedder}"\n')
    return home


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENT_WORKBENCH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])  # type: ignore[no-any-return]


def test_memory_commands_end_to_end(home: Path) -> None:
    added = ok_json(
        run(
            home,
            "memory",
            "add",
            "--agent",
            "cli",
            "--text",
            "The user prefers metric units.",
            "--text",
            "Backups run hourly.",
            "--json",
        )
    )
    assert added == {"ids": [1, 2], "kind": "long"}
    hits = ok_json(
        run(home, "memory", "search", "--agent", "cli", "--query", "units?", "--k", "1", "--json")
    )["hits"]
    assert len(hits) == 1 and hits[0]["id"] == 1
    assert set(hits[0]) >= {"id", "text", "kind", "score"} and hits[0]["kind"] == "long"
    ingested = ok_json(run(home, "memory", "ingest", "--agent", "cli", str(DATA), "--json"))
    assert ingested["files"] == 3 and ingested["chunks"] > 0
    stats = ok_json(run(home, "memory", "stats", "--agent", "cli", "--json"))
    assert stats["items"] == 2 + ingested["chunks"] and stats["documents"] == 3
    listed = ok_json(run(home, "memory", "list", "--agent", "cli", "--kind", "long", "--json"))
    assert [i["id"] for i in listed["items"]] == [2, 1]
    assert ok_json(run(home, "memory", "delete", "--agent", "cli", "--id", "2", "--json")) == {
        "deleted": 1
    }
    rebuilt = ok_json(run(home, "memory", "rebuild", "--agent", "cli", "--json"))
    assert rebuilt["items"] == 1 + ingested["chunks"] and rebuilt["index"]["kind"] == "flat"
    wiped = ok_json(run(home, "memory", "delete", "--agent", "cli", "--all", "--json"))
    assert wiped == {"deleted": 1 + ingested["chunks"]}
    text = run(home, "memory", "search", "--agent", "cli", "--query", "anything")
    assert text.returncode == 0 and text.stdout == ""


def test_memory_errors_exit_2(home: Path, tmp_path: Path) -> None:
    bad = run(home, "memory", "add", "--agent", "../x", "--text", "hi")
    assert bad.returncode == 2 and bad.stderr.startswith("error: invalid agent name")
    missing = run(home, "memory", "ingest", "--agent", "a", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    meta = run(home, "memory", "add", "--agent", "a", "--text", "x", "--metadata", "[1]")
    assert meta.returncode == 2 and "JSON object" in meta.stderr
    (home / "settings.toml").write_text('[memory]\nembedder = "not-prepared"\n')
    unprepared = run(home, "memory", "add", "--agent", "a", "--text", "x")
    assert (
        unprepared.returncode == 2
        and "model prepare --source embedder-default" in unprepared.stderr
    )
    (home / "settings.toml").write_text("[memory]\nhnsw_treshold = 5\n")
    typo = run(home, "memory", "stats", "--agent", "a")
    assert typo.returncode == 2 and "unknown [memory] settings hnsw_treshold" in typo.stderr


def test_corrupt_index_notice_on_stderr(home: Path) -> None:
    ok_json(run(home, "memory", "add", "--agent", "n", "--text", "a fact", "--json"))
    index = home / "memory" / "n" / "index.bin"
    index.write_bytes(b"garbage")
    result = run(home, "memory", "search", "--agent", "n", "--query", "fact", "--json")
    assert ok_json(result)["hits"][0]["text"] == "a fact"
    assert "[memory] n: index file is corrupt" in result.stderr


@pytest.mark.slow  # exports the real embedder from scratch (no cached fp32 export)
@pytest.mark.export
def test_model_prepare_embedder_json(tmp_path: Path) -> None:
    result = run(tmp_path, "model", "prepare", "--source", "embedder-default", "--json")
    data = ok_json(result)
    assert data["manifest"]["kind"] == "embedder" and data["manifest"]["name"] == "default-embedder"
    assert data["manifest"]["validation"]["cosine_min"] >= 0.98
    listed = ok_json(run(tmp_path, "model", "list", "--json"))
    assert [m["kind"] for m in listed["models"]] == ["embedder"]
    text = run(tmp_path, "model", "list")
    assert "default-embedder" in text.stdout and "min cosine 0.99" in text.stdout
    assert "embedder" in text.stdout.split()
    again = run(tmp_path, "model", "prepare", "--kind", "embedder")
    assert again.returncode == 0 and "already prepared: default-embedder" in again.stderr
    refused = run(
        tmp_path,
        "model",
        "prepare",
        "--kind",
        "embedder",
        "--quant",
        "int4",
        "--name",
        "e4",
        "--min-cosine",
        "0.999",
    )
    assert refused.returncode == 2 and "minimum cosine" in refused.stderr


@pytest.mark.slow  # exports the real embedder from scratch into the test's data home
@pytest.mark.export
def test_default_prepare_also_prepares_the_embedder(
    tiny_fp32: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`model prepare` (default source): the chat model, then the default embedder.

    The chat model half is the tiny model's real prepared folder (the real default model
    takes minutes and 7 GB); the embedder half runs for real into the test's data home.
    """
    import engine.models.prepare as prepare_module
    from engine.cli import main
    from engine.manifest import check_folder

    calls: list[str] = []

    def chat_model(source: str, **kw: object) -> prepare_module.Prepared:
        calls.append(source)
        return prepare_module.Prepared(tiny_fp32, check_folder(tiny_fp32), reused=True)

    monkeypatch.setattr(prepare_module, "prepare", chat_model)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["model", "prepare", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert calls == ["default"] and data["manifest"]["kind"] == "causal-lm"
    assert data["embedder"]["manifest"]["kind"] == "embedder"
    assert data["embedder"]["manifest"]["name"] == "default-embedder"


@pytest.mark.parametrize("damage", ["garbage", "damaged page"])
def test_a_damaged_store_is_one_error_line(
    _data_home: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """Before, a damaged page met by a query was a raw sqlite3.DatabaseError traceback."""
    from engine.cli import main
    from tests.helpers.memory_db import damage_page, filled

    db = filled(_data_home / "memory" / "broken")
    if damage == "garbage":
        db.write_bytes(b"\x00garbage" * 1000)
    else:
        damage_page(db, 2)  # the first page of the `meta` table, read at open
    before = db.read_bytes()
    for command in ("stats", "list"):
        assert main(["memory", command, "--agent", "broken"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: the memory store {db.parent} is damaged")
        assert err.count("\n") == 1 and "Move the folder aside" in err
    assert db.read_bytes() == before


def test_list_shows_stored_control_characters_escaped(
    _data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from engine.cli import main
    from tests.helpers.memory_db import filled

    db = filled(_data_home / "memory" / "kept", items=0)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO items (kind, text, created, updated, text_hash, vector) "
        "VALUES ('long', ?, 0, 0, 'h', ?)",
        ("remember \x1b]0;pwned\x07\u202eevil", bytes(16)),
    )
    conn.commit()
    conn.close()
    assert main(["memory", "list", "--agent", "kept"]) == 0
    shown = capsys.readouterr().out
    assert shown.endswith("[long] remember \\x1b]0;pwned\\x07\\u202eevil\n"), shown
