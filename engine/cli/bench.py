"""`bench` (side-by-side throughput) and `bench matrix` (providers x quantizations x
threads, recorded as a profiling session)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli.generate import PROVIDER_CHOICES
from engine.cli.output import EXIT_INTERRUPTED, emit_json, err, out


def cmd_bench(args: argparse.Namespace) -> int:
    from engine.manifest import model_folder
    from engine.telemetry.bench import BenchConfig, format_table, run_bench

    config = BenchConfig(
        model=model_folder(args.model),
        prompt_tokens=args.prompt_tokens,
        new_tokens=args.new_tokens,
        runs=args.runs,
        threads=args.threads,
        provider=args.provider,
        vs=args.vs,
        warmup=args.warmup,
    )
    result = run_bench(config, log=err)
    if args.json:
        emit_json(result)
    else:
        out(format_table(result))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from engine.manifest import model_folder
    from engine.telemetry.bench_batch import BatchBenchConfig, format_table, run_bench_batch

    config = BatchBenchConfig(
        model=model_folder(args.model),
        concurrency=tuple(args.concurrency),
        prompt_tokens=args.prompt_tokens,
        new_tokens=args.new_tokens,
        runs=args.runs,
        warmup=args.warmup,
        threads=args.threads,
        provider=args.provider,
        vs=args.vs,
    )
    result = run_bench_batch(config, log=err)
    if args.json:
        emit_json(result)
    else:
        out(format_table(result))
    return EXIT_INTERRUPTED if result["cancelled"] else 0


def cmd_matrix(args: argparse.Namespace) -> int:
    from engine.manifest import model_folder
    from engine.progress import CancelToken, Reporter, TerminalProgress
    from engine.telemetry import session_file
    from engine.telemetry.matrix import MatrixConfig, format_table, record_matrix

    config = MatrixConfig(
        models=tuple(model_folder(m) for m in args.model),
        threads=tuple(args.threads or ()),
        providers=tuple(args.provider or ()),
        runs=args.runs,
        warmup=args.warmup,
        prompt_tokens=tuple(args.prompt_tokens),
        new_tokens=args.new_tokens,
        siblings=not args.only_named,
    )
    with TerminalProgress() as bar:
        result, session = record_matrix(
            config, Reporter(bar, CancelToken()), err, ["bench", "matrix", *args.model]
        )
    failed: session_file.SessionFileError | None = None
    try:  # the table is printed even when the session cannot be written
        path: Path | None = session_file.save(session, Path(args.out) if args.out else None)
    except session_file.SessionFileError as exc:
        path, failed = None, exc
    result = {**result, "session": str(path) if path else None}
    if args.json:
        emit_json(result)
    else:
        out(format_table(result))
        if path:
            err(f"saved as a profiling session: {path}")
    if failed is not None:
        raise failed
    return EXIT_INTERRUPTED if result["cancelled"] else 0


def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="side-by-side throughput")
    bench.add_argument("--model", default="default")
    bench.add_argument("--prompt-tokens", type=int, default=209)
    bench.add_argument("--new-tokens", type=int, default=128)
    bench.add_argument("--runs", type=int, default=3)
    bench.add_argument("--warmup", type=int, default=1)
    bench.add_argument("--threads", type=int)
    bench.add_argument("--provider", default="auto", choices=PROVIDER_CHOICES)
    bench.add_argument(
        "--vs",
        action="append",
        choices=["optimum", "llamacpp"],
        default=[],
        help="also run a peer engine (repeatable)",
    )
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=cmd_bench)

    modes = bench.add_subparsers(dest="bench_mode", required=False, metavar="{matrix,batch}")
    bb = modes.add_parser(
        "batch", help="several streams at once (continuous batching), per concurrency level"
    )
    bb.add_argument("--model", default="default")
    bb.add_argument(
        "--concurrency", nargs="+", type=int, default=[1, 2, 4], help="streams at once, per level"
    )
    bb.add_argument("--prompt-tokens", type=int, default=209, help="per stream")
    bb.add_argument("--new-tokens", type=int, default=128, help="per stream")
    bb.add_argument("--runs", type=int, default=3, help="measured runs per level")
    bb.add_argument("--warmup", type=int, default=1)
    bb.add_argument("--threads", type=int)
    bb.add_argument("--provider", default="auto", choices=PROVIDER_CHOICES)
    bb.add_argument(
        "--vs",
        action="append",
        choices=["llamacpp"],
        default=[],
        help="also run llama.cpp's own batched decoding (the peers extra)",
    )
    bb.add_argument("--json", action="store_true")
    bb.set_defaults(func=cmd_batch)
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
