"""Names typed into the profiler's save and export dialogs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui.profile_io import chosen_export_path, chosen_session_path


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("/s/run", "/s/run.awprof.json"),
        ("/s/run.json", "/s/run.awprof.json"),
        ("/s/run.awprof.json", "/s/run.awprof.json"),
        ("/s/run.v2", "/s/run.v2.awprof.json"),
    ],
)
def test_session_names(typed: str, written: str) -> None:
    assert chosen_session_path(typed) == Path(written)


@pytest.mark.parametrize(
    ("typed", "kind", "written"),
    [
        ("/e/trace", "chrome", "/e/trace.json"),
        ("/e/trace.json", "chrome", "/e/trace.json"),
        ("/e/metrics", "csv", "/e/metrics.csv"),
        ("/e/metrics.txt", "csv", "/e/metrics.txt"),  # an extension the person chose stays
    ],
)
def test_export_names(typed: str, kind: str, written: str) -> None:
    assert chosen_export_path(typed, kind) == Path(written)
