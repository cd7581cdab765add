"""The `profile` commands (record, list, show, compare, export, delete) and `bench matrix`."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.telemetry import session_file


def _emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


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
    from engine.telemetry.record_targets import TARGETS, RecordOptions
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
        _emit_json(
            {
                "session": str(path),
                **summary,
                "runs": len(session.runs),
                "metrics": metrics,
                "cancelled": cancelled,
            }
        )
    else:
        sys.stdout.write("\n")
        state = "cancelled, kept" if cancelled else "recorded"
        _err(f"{state} {len(session.runs)} run(s), {session.duration_s:.2f} s -> {path}")
    return 130 if cancelled else 0


def _echo(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# --------------------------------------------------------------------------- list / show
def cmd_list(args: argparse.Namespace) -> int:
    rows = session_file.list_sessions()
    if args.json:
        _emit_json({"sessions": rows})
        return 0
    if not rows:
        _err("no profiling sessions yet; record one: python main.py profile record -- generate ...")
    for r in rows:
        if "error" in r:
            sys.stdout.write(f"{r['file']}  unreadable: {r['error']}\n")
        else:
            sys.stdout.write(
                f"{r['file']}  {r['name']}  {r['created']}  {r['runs']} run(s)  "
                f"{r['duration_s']:.1f} s\n"
            )
    return 0


@_reading
def cmd_show(args: argparse.Namespace) -> int:
    from engine.telemetry.summary import format_summary, summarize

    s = session_file.load(args.file)
    if args.json:
        _emit_json(summarize(s))
    else:
        sys.stdout.write(format_summary(s) + "\n")
    return 0


# --------------------------------------------------------------------------- compare / export
@_reading
def cmd_compare(args: argparse.Namespace) -> int:
    from engine.telemetry.compare import compare, format_table

    result = compare(session_file.load(args.a), session_file.load(args.b))
    if args.json:
        _emit_json(result)
    else:
        sys.stdout.write(format_table(result) + "\n")
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
        _emit_json(done)
    else:
        for key in ("chrome", "csv", "samples_csv"):
            if key in done:
                _err(f"wrote {done[key]['path']}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    path = session_file.delete(args.file)
    _err(f"deleted {path}")
    return 0


# --------------------------------------------------------------------------- bench matrix
def cmd_matrix(args: argparse.Namespace) -> int:
    from engine.cli import resolve_model
    from engine.progress import CancelToken, Reporter, TerminalProgress
    from engine.telemetry.matrix import MatrixConfig, format_table, run_matrix
    from engine.telemetry.recorder import Recorder

    config = MatrixConfig(
        models=tuple(resolve_model(m) for m in args.model),
        threads=tuple(args.threads or ()),
        providers=tuple(args.provider or ()),
        runs=args.runs,
        warmup=args.warmup,
        prompt_tokens=tuple(args.prompt_tokens),
        new_tokens=args.new_tokens,
        siblings=not args.only_named,
    )
    from engine.telemetry.sampler import HardwareSampler
    from engine.telemetry.sources import ProcessSource, default_sources

    bar = TerminalProgress()
    worker = ProcessSource("worker")  # each combination's worker process, in turn
    sampler = HardwareSampler([*default_sources(), worker], rate_hz=10.0, seconds=3600.0)
    recorder = Recorder("bench matrix", sampler, command=["bench", "matrix", *args.model])
    with recorder:
        result = run_matrix(config, recorder, Reporter(bar, CancelToken()), _err, worker.watch)
    bar.close()
    recorder.extra["matrix"] = result
    session = recorder.finish()
    failed: session_file.SessionFileError | None = None
    try:  # the table is printed even when the session cannot be written
        path: Path | None = _save(session, args.out)
    except session_file.SessionFileError as exc:
        path, failed = None, exc
    result = {**result, "session": str(path) if path else None}
    if args.json:
        _emit_json(result)
    else:
        sys.stdout.write(format_table(result) + "\n")
        if path:
            _err(f"saved as a profiling session: {path}")
    if failed is not None:
        raise failed
    return 130 if result["cancelled"] else 0


# --------------------------------------------------------------------------- parsers
def register(profile: Any, bench: argparse.ArgumentParser) -> None:
    """Add the profile sub-commands to `profile` and `matrix` under the `bench` parser."""
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

    modes = bench.add_subparsers(dest="bench_mode", required=False, metavar="{matrix}")
    mx = modes.add_parser("matrix", help="providers x quantizations x threads, several runs each")
    mx.add_argument("--model", nargs="+", required=True, help="prepared model names or folders")
    mx.add_argument(
        "--threads", nargs="+", type=int, help="thread counts (default: physical cores)"
    )
    mx.add_argument(
        "--provider", nargs="+", help="cpu cuda dml (default: every one this build has)"
    )
    mx.add_argument(
        "--only-named", action="store_true", help="skip the other prepared quantizations"
    )
    mx.add_argument("--runs", type=int, default=5, help="measured runs per combination")
    mx.add_argument("--warmup", type=int, default=1)
    mx.add_argument("--prompt-tokens", nargs="+", type=int, default=[209], help="sizes to sweep")
    mx.add_argument("--new-tokens", type=int, default=128)
    mx.add_argument("--out", help="session file (default: the data home's sessions/)")
    mx.add_argument("--json", action="store_true")
    mx.set_defaults(func=cmd_matrix)
