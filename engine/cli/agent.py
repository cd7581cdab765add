"""`agent new | validate | run`: agents headless, tool approval asked on the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from engine.agent import events as ev
from engine.agent.hooks import RunHooks
from engine.cli.output import EXIT_INTERRUPTED, emit_json, err, out
from engine.printable import printable
from engine.tools.base import BeforeCall, ToolCallRequest

if TYPE_CHECKING:
    from engine.agent.agentfile import AgentFile
    from engine.agent.prepared import PreparedRun


def ask_on_terminal(stream: TextIO | None = None) -> BeforeCall:
    """A before-call hook that asks on the terminal (stderr + stdin)."""

    def ask(request: ToolCallRequest) -> bool | str:
        target = stream or sys.stderr
        args = json.dumps(request.arguments, ensure_ascii=False)
        target.write(printable(f"allow {request.tool.name} {args}? [y/N] "))
        target.flush()
        answer = sys.stdin.readline().strip().lower()
        return True if answer in ("y", "yes") else "the person said no"

    return ask


def approval_hooks(mode: str | None) -> RunHooks:
    """The run's hooks for `--approve auto|deny|ask` (ask: on the terminal)."""
    if mode == "auto":
        return RunHooks(before_call=lambda request: True)
    if mode == "deny":
        return RunHooks(before_call=lambda request: "refused by --approve deny")
    return RunHooks(before_call=ask_on_terminal())


@contextmanager
def terminal_run(agent: AgentFile, args: argparse.Namespace, **extra: Any) -> Iterator[PreparedRun]:
    """`agent run`'s options as a prepared run (engine.agent.prepared) that asks and
    reports on the terminal; `profile record -- agent run` uses it too."""
    from engine.agent.prepared import RunOptions, admit_run, prepared_run
    from engine.progress import TerminalProgress

    options = RunOptions.from_args(args)
    items = admit_run(agent, options)  # refuses before the progress bar, memory or model
    if items:
        err(f"trusting {agent.path} (--trust, sha256 {agent.sha256[:12]}):")
        for item in items:
            err(f"  - {item.text}")
    with (
        TerminalProgress() as bar,
        prepared_run(
            agent,
            args.task,
            options,
            hooks=approval_hooks(args.approve),
            notice=err,
            progress=bar,
            **extra,
        ) as prepared,
    ):
        yield prepared


def cmd_new(args: argparse.Namespace) -> int:
    from engine.agent.templates import new_agent

    agent = new_agent(args.template, args.file)
    err(f"created {agent.path} from the template {args.template!r}")
    err(f"  workspace: {agent.workspace}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Valid or not (a path that can never be right is an error, as `agent run` says), and
    the trust items `agent run` would need `--trust` for (a notice, not an error)."""
    from engine.agent.agentfile import load
    from engine.agent.trust import ForbiddenPathError, forbidden, trust_items

    agent = load(args.file)
    spec = agent.spec
    refused = forbidden(agent)
    if refused:
        raise ForbiddenPathError(f"{args.file}: " + "; ".join(refused))
    items = trust_items(agent)
    if args.json:
        emit_json(
            {
                "valid": True,
                "name": spec.name,
                "sha256": agent.sha256,
                "trust": [item.to_json() for item in items],
            }
        )
    else:
        tools = ", ".join(t.name for t in spec.tools) or "no tools"
        err(f"{args.file}: valid ({spec.name}; {spec.planning.strategy}; {tools})")
    if items:
        err("notice: running it needs --trust, which accepts:")
        for item in items:
            err(f"  - {item.text}")
    return 0


def _show(event: ev.RunEvent) -> None:
    """Human-readable progress on stderr."""
    if isinstance(event, ev.TokenDelta):
        err(event.text, end="")
    elif isinstance(event, ev.ToolResult):
        state = "ok" if event.ok else f"error ({event.error_kind})"
        err(f"\n  -> {event.tool or '?'}: {state}: {event.output[:300]}")
    elif isinstance(event, ev.PlanStep) and event.status == "planned":
        err("\nplan: " + " | ".join(event.plan))
    elif isinstance(event, ev.Reflection):
        err(f"\nreflection ({event.verdict}): {event.critique}")
    elif isinstance(event, ev.MemoryHit) and event.items:
        used = ", ".join(f"#{m.id} {m.score:.2f}" for m in event.items)
        err(f"\n[memory] step {event.step}: {used}")
    elif isinstance(event, ev.RunError):
        err(f"\nerror: {event.message}")
    elif isinstance(event, ev.RunFinished):
        m = event.metrics
        err(
            f"\n[{event.stop_reason}] {m.steps} steps, {m.tool_calls} tool calls, "
            f"{m.generated_tokens} tokens, {m.wall_s:.1f} s"
        )


def cmd_run(args: argparse.Namespace) -> int:
    from engine.agent.agentfile import load
    from engine.agent.report import summarize
    from engine.progress import CancelToken

    agent = load(args.file)
    cancel = CancelToken()
    collected: list[ev.RunEvent] = []
    with terminal_run(agent, args, cancel=cancel) as prepared:
        try:
            for event in prepared.run:
                collected.append(event)
                if not args.quiet:
                    _show(event)
        except KeyboardInterrupt:
            cancel.cancel()
            err("\ncancelled")
            return EXIT_INTERRUPTED
    result = summarize(collected)
    if args.json:
        emit_json(result)
    else:
        out(result["final_answer"] or "(no answer)")
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
    add_run_options(run)
    run.set_defaults(func=cmd_run)


def run_parser() -> argparse.ArgumentParser:
    """`agent run`'s options on their own (for `profile record -- agent run ...`)."""
    parser = argparse.ArgumentParser(prog="main.py profile record -- agent run")
    add_run_options(parser)
    return parser


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("file")
    run.add_argument("--task", required=True)
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument(
        "--approve",
        choices=["auto", "deny", "ask"],
        help="for `ask` tools: allow all, refuse all, or ask on the terminal (default)",
    )
    run.add_argument(
        "--trust",
        action="store_true",
        help="trust this agent file: its command tools, MCP servers, paths outside its folder, "
        "tools that run without asking, network (`agent validate` lists them)",
    )
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
