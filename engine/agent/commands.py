"""`main.py agent new | validate | run`: agents headless (registered by engine/cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.agent import events as ev
from engine.agent.prepared import approval, ask_on_terminal
from engine.agent.prepared import to_stderr as _err

__all__ = ["approval", "ask_on_terminal", "register"]


def cmd_new(args: argparse.Namespace) -> int:
    from engine.agent.templates import new_agent

    agent = new_agent(args.template, args.file)
    _err(f"created {agent.path} from the template {args.template!r}")
    _err(f"  workspace: {agent.workspace}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from engine.agent.agentfile import load

    agent = load(args.file)
    spec = agent.spec
    if args.json:
        sys.stdout.write(
            json.dumps({"valid": True, "name": spec.name, "sha256": agent.sha256}) + "\n"
        )
    else:
        tools = ", ".join(t.name for t in spec.tools) or "no tools"
        _err(f"{args.file}: valid ({spec.name}; {spec.planning.strategy}; {tools})")
    return 0


def _show(event: ev.RunEvent) -> None:
    """Human-readable progress on stderr."""
    if isinstance(event, ev.TokenDelta):
        sys.stderr.write(event.text)
    elif isinstance(event, ev.ToolResult):
        state = "ok" if event.ok else f"error ({event.error_kind})"
        _err(f"\n  -> {event.tool or '?'}: {state}: {event.output[:300]}")
    elif isinstance(event, ev.PlanStep) and event.status == "planned":
        _err("\nplan: " + " | ".join(event.plan))
    elif isinstance(event, ev.Reflection):
        _err(f"\nreflection ({event.verdict}): {event.critique}")
    elif isinstance(event, ev.MemoryHit) and event.items:
        used = ", ".join(f"#{m.id} {m.score:.2f}" for m in event.items)
        _err(f"\n[memory] step {event.step}: {used}")
    elif isinstance(event, ev.RunError):
        _err(f"\nerror: {event.message}")
    elif isinstance(event, ev.RunFinished):
        m = event.metrics
        _err(
            f"\n[{event.stop_reason}] {m.steps} steps, {m.tool_calls} tool calls, "
            f"{m.generated_tokens} tokens, {m.wall_s:.1f} s"
        )


def cmd_run(args: argparse.Namespace) -> int:
    from engine.agent.agentfile import load
    from engine.agent.prepared import RunOptions, prepared_run
    from engine.agent.report import summarize
    from engine.progress import CancelToken

    agent = load(args.file)
    cancel = CancelToken()
    collected: list[ev.RunEvent] = []
    options = RunOptions.from_args(args)
    with prepared_run(agent, args.task, options, cancel=cancel, notice=_err) as prepared:
        try:
            for event in prepared.run:
                collected.append(event)
                if not args.quiet:
                    _show(event)
        except KeyboardInterrupt:
            cancel.cancel()
            _err("\ncancelled")
            return 130
    result = summarize(collected)
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(f"{result['final_answer'] or '(no answer)'}\n")
    return 0


def register(sub: Any) -> None:
    """Add `agent new | validate | run` to the main parser's subcommands."""
    agent = sub.add_parser("agent", help="create, check and run agents").add_subparsers(
        dest="agent_command", required=True
    )
    new = agent.add_parser("new", help="a new agent file from a template")
    new.add_argument(
        "--template",
        required=True,
        help="calculator, research, coder, planner, notekeeper, librarian",
    )
    new.add_argument("file", help="NAME.agent.yaml")
    new.set_defaults(func=cmd_new)

    val = agent.add_parser("validate", help="check an agent file")
    val.add_argument("file")
    val.add_argument("--json", action="store_true")
    val.set_defaults(func=cmd_validate)

    run = agent.add_parser("run", help="run an agent on a task, headless")
    run.add_argument("file")
    run.add_argument("--task", required=True)
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument(
        "--approve",
        choices=["auto", "deny", "ask"],
        help="for `ask` tools: allow all, refuse all, or ask on the terminal (default)",
    )
    run.add_argument("--trust", action="store_true", help="allow command tools / MCP servers")
    run.add_argument("--model", help="prepared model name or folder (default: the file's)")
    run.add_argument("--provider", choices=["auto", "cpu", "cuda", "dml"])
    run.add_argument("--max-steps", type=int)
    run.add_argument("--max-tokens", type=int)
    run.add_argument("--max-seconds", type=float)
    run.add_argument("--workspace", help="workspace folder (default: the file's)")
    run.add_argument("--unconstrained", action="store_true", help="turn the step grammar off")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    run.add_argument(
        "--no-memory", action="store_true", help="run without the agent's memory (and its tools)"
    )
    run.set_defaults(func=cmd_run)
