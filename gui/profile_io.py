"""Worker bodies (`gui.bridge.Worker`) for profiling sessions: save, load, compare, export.

They call the engine's own functions (session_file, compare, chrome_trace, csv_export);
content a session file should not hold (a damaged file that still parses as JSON)
becomes a `SessionFileError` naming the file, as in `profile show/compare/export`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engine.telemetry import chrome_trace, csv_export, session_file
from engine.telemetry.compare import compare
from engine.telemetry.session_file import ProfileSession, SessionFileError
from gui.profiler_view import check_viewable

F = TypeVar("F", bound=Callable[..., Any])


def reading(func: F) -> F:
    @functools.wraps(func)
    def run(*args: Any) -> Any:
        try:
            return func(*args)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            names = [str(a) for a in args[1:] if isinstance(a, str | Path)]
            raise SessionFileError(
                f"{' / '.join(names) or 'the session'}: unexpected content in the session "
                f"({type(exc).__name__}: {exc}); the file is damaged or was edited"
            ) from exc

    return run  # type: ignore[return-value]


def save(state: object, session: ProfileSession, path: Path | None) -> Path:
    return session_file.save(session, path)


@reading
def load(state: object, path: str | Path) -> ProfileSession:
    session = session_file.load(path)
    check_viewable(session)
    return session


@reading
def compare_files(state: object, a: str | Path, b: str | Path) -> dict[str, Any]:
    return compare(session_file.load(a), session_file.load(b))


@reading
def export_chrome(state: object, session: ProfileSession, out: Path) -> dict[str, Any]:
    return chrome_trace.export(session, out)


@reading
def export_csv(state: object, session: ProfileSession, out: Path) -> dict[str, Any]:
    return {"path": str(out), "rows": csv_export.write_metrics(session, out)}


def list_sessions(state: object) -> list[dict[str, Any]]:
    return session_file.list_sessions()


def delete(state: object, path: str | Path) -> Path:
    return session_file.delete(path)


#: What an export of each kind is written as when the chosen name has no extension.
EXPORT_SUFFIX = {"chrome": ".json", "csv": ".csv"}


def chosen_session_path(chosen: str) -> Path:
    """A name from a save dialog as a session file: "x" and "x.json" become x.awprof.json."""
    suffix = session_file.SUFFIX
    if chosen.endswith(suffix):
        return Path(chosen)
    if chosen.endswith(".json"):
        chosen = chosen[: -len(".json")]
    return Path(chosen + suffix)


def chosen_export_path(chosen: str, kind: str) -> Path:
    """A name from an export dialog, with the kind's extension when it has none."""
    path = Path(chosen)
    return path if path.suffix else path.with_name(path.name + EXPORT_SUFFIX[kind])
