"""`eval run | resume | validate | import | list | show | compare | export`: evaluation
suites headless (engine/eval; the format is in docs/evaluation.md)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.output import EXIT_INTERRUPTED, CommandInputError, emit_json, err, out

if TYPE_CHECKING:
    from engine.eval.results import ResultSet
    from engine.eval.runner import EvalEvent, EvalOptions


def _machine() -> dict[str, Any]:
    from engine.telemetry.machine import cpu_model

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()}


def _split_files(files: list[str]) -> tuple[list[str], str]:
    suites = [f for f in files if f.endswith(".suite.yaml")]
    agents = [f for f in files if f not in suites]
    if len(suites) != 1:
        raise CommandInputError(
            "give the agent files and exactly one suite file (NAME.suite.yaml), like "
            "`eval run calculator.agent.yaml arithmetic.suite.yaml`"
        )
    bad = [f for f in agents if not f.endswith(".agent.yaml")]
    if bad:
        raise CommandInputError(f"{bad[0]}: expected an agent file (NAME.agent.yaml)")
    return agents, suites[0]


def _show(event: EvalEvent, quiet: bool) -> None:
    from engine.eval import runner as r

    if isinstance(event, r.SuiteStarted):
        resumed = f", {event.done} already done" if event.done else ""
        err(f"suite {event.suite!r}: {event.total} task runs{resumed} -> {event.path}")
    elif isinstance(event, r.VariantStarted):
        err(f"[{event.key}] {event.label}")
    elif isinstance(event, r.TaskFinished) and not quiet:
        rec = event.record
        mark = "PASS" if rec["passed"] else "FAIL"
        err(
            f"  [{event.index}/{event.total}] {rec['task']}#{rec['repeat']}: {mark} "
            f"({rec['latency_ms'] / 1000:.1f} s, {rec['steps']} steps)"
        )
        for check in rec["checks"]:
            if check["passed"] is False:
                err(f"      x {check['check']}: {check['reason']}")


def _run(
    suite_path: str, options: EvalOptions, args: argparse.Namespace, resume: ResultSet | None
) -> int:
    from engine.eval import results as res
    from engine.eval.runner import SuiteRun
    from engine.eval.suitefile import load
    from engine.progress import CancelToken

    suite = load(suite_path)
    cancel = CancelToken()
    run = SuiteRun(
        suite,
        options,
        cancel=cancel,
        notice=err,
        machine=resume.machine if resume else _machine(),
        resume=resume,
        out=Path(args.out) if getattr(args, "out", None) else None,
    )
    try:
        for event in run:
            _show(event, args.quiet)
    except KeyboardInterrupt:
        cancel.cancel()
        err(
            "\ncancelled; finished task runs are kept: "
            f"python main.py eval resume {run.result.path}"
        )
        return EXIT_INTERRUPTED
    result = res.load(run.result.path or "")
    if args.json:
        emit_json(run_json(result))
    else:
        _print_summaries(result)
    return 0


def run_json(result: ResultSet) -> dict[str, Any]:
    """The `eval run --json` object: summary, results and file (and, for a matrix run,
    each variant's)."""
    from engine.eval.stats import summary

    def results(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "id": r["task"],
                "repeat": r["repeat"],
                "variant": r["variant"],
                "passed": r["passed"],
                "checks": [
                    {"check": c["check"], "passed": c["passed"], "reason": c["reason"]}
                    for c in r["checks"]
                ],
                "answer": r["answer"],
                "steps": r["steps"],
                "latency_ms": r["latency_ms"],
                "ttft_ms": r["ttft_ms"],
                "generated_tokens": r["generated_tokens"],
                "stop_reason": r["stop_reason"],
                "transcript": r["transcript"],
            }
            for r in runs
        ]

    return {
        "summary": summary(result.runs, result.repeat),
        "results": results(result.runs),
        "file": str(result.path),
        "status": result.status,
        "variants": [
            {"key": v.key, "label": v.label, "summary": result.summary(v)} for v in result.variants
        ],
    }


def _print_summaries(result: ResultSet) -> None:
    for v in result.variants:
        s = result.summary(v)
        ci = s["pass_rate_ci95"]
        interval = f" (95% CI {ci[0]:.0%}-{ci[1]:.0%})" if ci else ""
        rate = f"{s['pass_rate']:.0%}" if s["pass_rate"] is not None else "-"
        accepted = s["accepted_tool_call_rate"]
        latency = s["median_latency_ms"]
        out(
            f"{v.label}: {s['passed']}/{s['runs']} passed = {rate}{interval}; "
            f"accepted tool calls {f'{accepted:.0%}' if accepted is not None else '-'}; "
            f"median latency {f'{latency / 1000:.1f} s' if latency is not None else '-'}; "
            f"median tokens {s['median_tokens']}"
        )
    out(f"saved: {result.path}")


def _options(args: argparse.Namespace, agents: list[str]) -> EvalOptions:
    from engine.eval.runner import EvalOptions

    if args.repeat is not None and args.repeat < 1:
        raise CommandInputError("--repeat must be 1 or more")
    return EvalOptions(
        agents=tuple(agents),
        models=tuple(args.model or ()),
        quants=tuple(args.quant or ()),
        providers=tuple(args.provider or ()),
        repeat=args.repeat,
        tasks=tuple(args.task or ()),
        approve=args.approve,
        trust=args.trust,
        judge=args.judge or bool(args.judge_model),
        judge_model=args.judge_model,
        unconstrained=args.unconstrained,
        max_steps=args.max_steps,
        max_tokens=args.max_tokens,
        max_seconds=args.max_seconds,
    )


def cmd_run(args: argparse.Namespace) -> int:
    agents, suite = _split_files(args.files)
    return _run(suite, _options(args, agents), args, None)


def cmd_resume(args: argparse.Namespace) -> int:
    from engine.eval import results as res
    from engine.eval.runner import EvalOptions

    result = res.load(args.result)
    if result.status == "complete":
        err(f"{result.path} is complete; nothing to resume")
        if args.json:
            emit_json(run_json(result))
        return 0
    suite = result.suite.get("path")
    if not suite or not Path(suite).is_file():
        raise CommandInputError(f"{result.path}: its suite file {suite} is gone; cannot resume")
    args.out = None
    return _run(suite, EvalOptions.from_dict(result.options), args, result)


def cmd_validate(args: argparse.Namespace) -> int:
    from engine.eval.suitefile import load

    suite = load(args.file)
    checks = sum(len(t.checks) for t in suite.tasks)
    if args.json:
        emit_json({"valid": True, "name": suite.name, "tasks": len(suite.tasks), "checks": checks})
    else:
        err(f"{args.file}: valid ({suite.name}; {len(suite.tasks)} tasks, {checks} checks)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from engine.eval.importer import import_tasks

    path = import_tasks(Path(args.tasks), Path(args.out), args.name, args.agent)
    err(f"wrote {path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from engine.eval.results import list_results

    rows = list_results()
    if args.json:
        emit_json({"results": rows})
        return 0
    if not rows:
        err("no result sets yet: run `python main.py eval run AGENT SUITE`")
    for row in rows:
        if "error" in row:
            out(f"{row['file']}: {row['error']}")
            continue
        rates = ", ".join(
            f"{v['label']}: {v['pass_rate']:.0%}" if v["pass_rate"] is not None else v["label"]
            for v in row["variants"]
        )
        out(f"{row['file']}  {row['suite']}  {row['status']} {row['runs']}  {rates}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from engine.eval import results as res

    result = res.load(args.result)
    if args.json:
        emit_json({**result.to_dict(), "file": str(result.path)})
        return 0
    out(f"{result.suite['name']} ({result.status}, {len(result.runs)}/{result.total_runs} runs)")
    for v in result.variants:
        out(f"[{v.key}] {v.label}")
        for r in result.runs_of(v):
            mark = "PASS" if r["passed"] else "FAIL"
            out(f"  {r['task']}#{r['repeat']}: {mark}  {r['latency_ms'] / 1000:.1f} s")
            for c in r["checks"]:
                state = {True: "ok", False: "x", None: "-"}[c["passed"]]
                out(f"      {state} {c['check']}: {c['reason']}")
    _print_summaries(result)
    return 0


def _ref(text: str) -> tuple[ResultSet, Any]:
    """`RESULT` or `RESULT#VARIANT` (a key like v1 or an index)."""
    from engine.eval import results as res

    name, _, variant = text.partition("#")
    result = res.load(name)
    return result, result.variant(variant or 0)


def cmd_compare(args: argparse.Namespace) -> int:
    from engine.eval.compare import compare

    a, va = _ref(args.a)
    if args.b is None:
        if len(a.variants) < 2:
            raise CommandInputError("give two result sets, or one matrix result set")
        b, vb = a, a.variant(1)
    else:
        b, vb = _ref(args.b)
    diff = compare(a, va, b, vb)
    if args.json:
        emit_json(diff)
        return 0
    if not diff["same_suite"]:
        err("note: the two runs used different versions of the suite file")
    out(f"A: {va.label}  ({a.path})")
    out(f"B: {vb.label}  ({b.path})")
    for key, delta in diff["deltas"].items():
        if delta is not None:
            out(f"  {key}: {diff['a']['summary'][key]} -> {diff['b']['summary'][key]} ({delta:+})")
    for row in diff["tasks"]:
        if row["flip"]:
            out(f"  {row['flip']}: {row['task']}")
    out(f"fixed {len(diff['flipped']['fixed'])}, broken {len(diff['flipped']['broken'])}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from engine.eval import export
    from engine.eval import results as res

    result = res.load(args.result)
    if args.format == "csv":
        text = export.to_csv(result)
    elif args.format == "jsonl":
        text = export.to_jsonl(result)
    else:
        text = json.dumps(export.to_otlp(result), ensure_ascii=False) + "\n"
    if args.out:
        target = Path(args.out)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        err(f"wrote {target}")
    else:
        out(text, end="")
    return 0


def register(sub: Any) -> None:
    """Add `eval ...` to the main parser's subcommands."""
    ev = sub.add_parser("eval", help="evaluation suites: run, compare, export").add_subparsers(
        dest="eval_command", required=True
    )
    run = ev.add_parser("run", help="run agents on a suite and score them")
    run.add_argument(
        "files", nargs="+", help="AGENT.agent.yaml ... SUITE.suite.yaml (no agent: the suite's)"
    )
    add_run_options(run)
    run.add_argument("--out", help="result file (default: <data home>/evals/)")
    run.set_defaults(func=cmd_run)

    resume = ev.add_parser("resume", help="finish an interrupted suite run")
    resume.add_argument("result")
    resume.add_argument("--json", action="store_true")
    resume.add_argument("--quiet", action="store_true", help="no per-task lines on stderr")
    resume.set_defaults(func=cmd_resume)

    val = ev.add_parser("validate", help="check a suite file")
    val.add_argument("file")
    val.add_argument("--json", action="store_true")
    val.set_defaults(func=cmd_validate)

    imp = ev.add_parser("import", help="a suite file from a JSONL or CSV task list")
    imp.add_argument("tasks", help="TASKS.jsonl or TASKS.csv")
    imp.add_argument("--out", required=True, help="NAME.suite.yaml (never overwritten)")
    imp.add_argument("--name", help="the suite's name (default: the task file's)")
    imp.add_argument("--agent", help="default agent file, relative to the suite file")
    imp.set_defaults(func=cmd_import)

    lst = ev.add_parser("list", help="saved result sets")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    show = ev.add_parser("show", help="one result set, task by task")
    show.add_argument("result")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    cmp_ = ev.add_parser("compare", help="which tasks flipped; pass-rate and latency deltas")
    cmp_.add_argument("a", help="RESULT or RESULT#VARIANT (v0, v1, ... or 0, 1, ...)")
    cmp_.add_argument("b", nargs="?", help="(default: A's second variant)")
    cmp_.add_argument("--json", action="store_true")
    cmp_.set_defaults(func=cmd_compare)

    exp = ev.add_parser("export", help="CSV, JSON Lines or OpenTelemetry (OTLP/JSON)")
    exp.add_argument("result")
    exp.add_argument("--format", choices=["csv", "jsonl", "otlp"], default="csv")
    exp.add_argument("--out", help="file (default: stdout)")
    exp.set_defaults(func=cmd_export)


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument("--model", nargs="+", help="prepared models (a matrix: each one)")
    run.add_argument("--quant", nargs="+", help="quantizations of each model (int4, int8, ...)")
    run.add_argument("--provider", nargs="+", choices=["auto", "cpu", "cuda", "dml"])
    run.add_argument("--repeat", type=int, help="runs per task (default: the suite's)")
    run.add_argument("--task", nargs="+", help="only these task ids")
    run.add_argument(
        "--approve",
        choices=["auto", "deny"],
        default="deny",
        help="tools with approval `ask`: allow all, or refuse all (default: nobody is asked)",
    )
    run.add_argument("--trust", action="store_true", help="allow command tools / MCP servers")
    run.add_argument("--judge", action="store_true", help="apply model-judged checks")
    run.add_argument("--judge-model", help="the judge's prepared model (implies --judge)")
    run.add_argument("--unconstrained", action="store_true", help="turn the step grammar off")
    run.add_argument("--max-steps", type=int)
    run.add_argument("--max-tokens", type=int)
    run.add_argument("--max-seconds", type=float)
    run.add_argument("--quiet", action="store_true", help="no per-task lines on stderr")
