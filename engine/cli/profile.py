"""The `profile` commands: sources, record, list, show, compare, export, delete."""

from __future__ import annotations

import argparse
import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.cli.output import EXIT_INTERRUPTED, emit_json, err, out
from engine.errors import WorkbenchError
from engine.telemetry import session_file


def _reading(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command that reads sessions: content a file should not hold (a hand-edited or
    damaged session that still parses) becomes a clear error, not a traceback."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            names = [getattr(args, k) for k in ("file", "a", "b") if getattr(args, k, None)]
            raise session_file.SessionFileError(
                f"{' / '.join(names)}: unexpected content in the session "
                f"({type(exc).__name__}: {exc}); the file is damaged or was edited"
            ) from exc

    return run


def _save(session: session_file.ProfileSession, out: str | None) -> Path:
    return session_file.save(session, Path(out) if out else None)


# --------------------------------------------------------------------------- record
def cmd_record(args: argparse.Namespace) -> int:
    from engine.cli.record import TARGETS, RecordOptions
    from engine.telemetry.recorder import Recorder
    from engine.telemetry.sampler import HardwareSampler
    from engine.telemetry.sources import default_sources

    argv = list(args.target)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv or argv[0] not in TARGETS:
        given = argv[0] if argv else "nothing"
        raise WorkbenchError(
            f"profile record can record: {', '.join(TARGETS)} (got {given}); e.g. "
            "python main.py profile record -- generate --model default --prompt 'Hello'"
        )
    target, rest = argv[0], argv[1:]
    if args.rate <= 0:
        raise WorkbenchError("--rate must be more than 0 (hardware samples per second)")
    sampler = HardwareSampler(default_sources(), rate_hz=args.rate, seconds=3600.0)
    recorder = Recorder(name=args.name or target, sampler=sampler, command=argv)
    echo = None if args.json else _echo
    cancelled = False
    with tempfile.TemporaryDirectory(prefix="aw-ort-profile-") as tmp:
        options = RecordOptions(Path(tmp) if args.ort_profile else None, echo)
        summary: dict[str, Any] = {}
        with recorder:
            try:
                summary = TARGETS[target](rest, recorder, options)
            except KeyboardInterrupt:  # keep what was recorded; open spans close as incomplete
                cancelled = recorder.extra["cancelled"] = True
    session = recorder.finish()
    path = _save(session, args.out)
    metrics = session.runs[-1].metrics if session.runs else {}
    if args.json:
        emit_json(
            {
                "session": str(path),
                **summary,
                "runs": len(session.runs),
                "metrics": metrics,
                "cancelled": cancelled,
            }
        )
    else:
        out()
        state = "cancelled, kept" if cancelled else "recorded"
        err(f"{state} {len(session.runs)} run(s), {session.duration_s:.2f} s -> {path}")
    return EXIT_INTERRUPTED if cancelled else 0


def _echo(text: str) -> None:
    out(text, end="")


# --------------------------------------------------------------------------- list / show
def cmd_list(args: argparse.Namespace) -> int:
    rows = session_file.list_sessions()
    if args.json:
        emit_json({"sessions": rows})
        return 0
    if not rows:
        err("no profiling sessions yet; record one: python main.py profile record -- generate ...")
    for r in rows:
        if "error" in r:
            out(f"{r['file']}  unreadable: {r['error']}")
        else:
            out(
                f"{r['file']}  {r['name']}  {r['created']}  {r['runs']} run(s)  "
                f"{r['duration_s']:.1f} s"
            )
    return 0


@_reading
def cmd_show(args: argparse.Namespace) -> int:
    from engine.telemetry.summary import format_summary, summarize

    s = session_file.load(args.file)
    if args.json:
        emit_json(summarize(s))
    else:
        out(format_summary(s))
    return 0


# --------------------------------------------------------------------------- compare / export
@_reading
def cmd_compare(args: argparse.Namespace) -> int:
    from engine.telemetry.compare import compare, format_table

    result = compare(session_file.load(args.a), session_file.load(args.b))
    if args.json:
        emit_json(result)
    else:
        out(format_table(result))
    return 0


@_reading
def cmd_export(args: argparse.Namespace) -> int:
    from engine.telemetry import chrome_trace, csv_export

    if not (args.chrome or args.csv or args.samples_csv):
        raise WorkbenchError(
            "profile export needs --chrome OUT.json, --csv OUT.csv or --samples-csv OUT.csv"
        )
    s = session_file.load(args.file)
    done: dict[str, Any] = {"session": str(s.path)}
    if args.chrome:
        done["chrome"] = chrome_trace.export(s, Path(args.chrome))
    if args.csv:
        done["csv"] = {"path": args.csv, "rows": csv_export.write_metrics(s, Path(args.csv))}
    if args.samples_csv:
        rows = csv_export.write_samples(s, Path(args.samples_csv))
        done["samples_csv"] = {"path": args.samples_csv, "rows": rows}
    if args.json:
        emit_json(done)
    else:
        for key in ("chrome", "csv", "samples_csv"):
            if key in done:
                err(f"wrote {done[key]['path']}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    path = session_file.delete(args.file)
    err(f"deleted {path}")
    return 0


# --------------------------------------------------------------------------- parsers
def cmd_sources(args: argparse.Namespace) -> int:
    """Which hardware counters this machine offers, and why the others are missing."""
    from engine.telemetry.sources import default_sources

    rows = [
        {
            "name": s.name,
            "available": s.available,
            "reason": s.reason,
            "channels": [c.name for c in s.channels],
        }
        for s in default_sources()
    ]
    if args.json:
        emit_json({"sources": rows})
        return 0
    for row in rows:
        state = "available" if row["available"] else f"unavailable: {row['reason']}"
        out(f"{row['name']:<12} {state}")
    return 0


def register(sub: Any) -> None:
    profile = sub.add_parser("profile", help="hardware counters and profiling").add_subparsers(
        dest="profile_command", required=True
    )
    sources = profile.add_parser("sources", help="which hardware counters are available")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(func=cmd_sources)

    rec = profile.add_parser("record", help="record a command's run with hardware counters")
    rec.add_argument("--out", help="session file (default: the data home's sessions/)")
    rec.add_argument("--name", help="session name (default: the command)")
    rec.add_argument("--rate", type=float, default=10.0, help="hardware samples per second")
    rec.add_argument(
        "--ort-profile", action="store_true", help="add ONNX Runtime's operator profile"
    )
    rec.add_argument("--json", action="store_true")
    rec.add_argument(
        "target", nargs=argparse.REMAINDER, help="-- generate ... (the command to record)"
    )
    rec.set_defaults(func=cmd_record)

    lst = profile.add_parser("list", help="saved profiling sessions")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    show = profile.add_parser("show", help="a session's machine, runs, metrics and counters")
    show.add_argument("file")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    cmp_ = profile.add_parser("compare", help="two sessions side by side")
    cmp_.add_argument("a")
    cmp_.add_argument("b")
    cmp_.add_argument("--json", action="store_true")
    cmp_.set_defaults(func=cmd_compare)

    exp = profile.add_parser("export", help="Chrome trace (Perfetto) and CSV")
    exp.add_argument("file")
    exp.add_argument("--chrome", metavar="OUT.json")
    exp.add_argument("--csv", metavar="OUT.csv", help="metrics, one row per run")
    exp.add_argument("--samples-csv", metavar="OUT.csv", help="hardware samples, long format")
    exp.add_argument("--json", action="store_true")
    exp.set_defaults(func=cmd_export)

    rm = profile.add_parser("delete", help="delete a saved session")
    rm.add_argument("file")
    rm.set_defaults(func=cmd_delete)
