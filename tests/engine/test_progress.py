"""engine.progress: the terminal progress bar's lines."""

from __future__ import annotations

import io
import re
import time

import pytest

from engine.progress import Progress, TerminalProgress


def _line(stage: str, done: float, total: float) -> Progress:
    return Progress(stage, done, total, "", time.monotonic())


def test_a_stage_line_shows_the_time_the_stage_took(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a pipe every stage prints a start and an end line; the end line's elapsed time is
    the stage's own (it printed 0.0s for every stage: the start line reset the clock)."""
    now = [100.0]
    monkeypatch.setattr("engine.progress.time.monotonic", lambda: now[0])
    out = io.StringIO()
    bar = TerminalProgress(out)
    for t, line in [
        (100.0, _line("export", 0, 1)),
        (103.5, _line("export", 1, 1)),
        (110.0, _line("quantize", 0, 4)),
        (110.25, _line("quantize", 4, 4)),
    ]:
        now[0] = t
        bar(line)
    lines = out.getvalue().splitlines()
    seconds = [float(re.search(r"(\d+\.\d)s", line).group(1)) for line in lines]  # type: ignore[union-attr]
    assert seconds == [0.0, 3.5, 0.0, 0.2]


def test_a_terminal_line_is_ended_on_close() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with TerminalProgress(out) as bar:
        bar(_line("ingest", 1, 3))
    assert out.getvalue().startswith("\ringest") and out.getvalue().endswith("\n")


def test_a_stranger_s_file_name_cannot_drive_the_terminal() -> None:
    """`memory ingest` shows each file's name; a name may hold an ESC sequence or a newline."""
    stream = io.StringIO()
    bar = TerminalProgress(stream)
    bar(Progress("ingest", 0, 2, "a\x1b]0;pwned\x07\nb.txt", time.monotonic()))
    bar.close()
    assert "\x1b" not in stream.getvalue() and "\\x1b]0;pwned\\x07 b.txt" in stream.getvalue()
