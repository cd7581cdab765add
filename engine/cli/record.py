"""What `profile record -- <command> ...` can record: one entry per command (a CLI
module: a target parses the recorded command's own options).

A target parses its own command line (the same options as the command itself), runs it
inside `recorder.run(...)` feeding every engine event through `recorder.watch`, and
returns a short summary: `generate` and `agent run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.telemetry import ort_profile
from engine.telemetry.recorder import Recorder


@dataclass(frozen=True)
class RecordOptions:
    ort_profile_dir: Path | None = None  # ONNX Runtime operator profiling when set
    echo: Callable[[str], None] | None = None  # streamed text goes here


Target = Callable[[list[str], Recorder, RecordOptions], dict[str, Any]]


def record_generate(argv: list[str], recorder: Recorder, options: RecordOptions) -> dict[str, Any]:
    from engine.cli.generate import generate_parser, request_from
    from engine.llm.events import TokenDelta
    from engine.llm.session import LLMSession
    from engine.manifest import model_folder

    args = generate_parser().parse_args(argv)
    with recorder.run(f"generate {args.prompt[:40]!r}", kind="generation") as run:
        recorder.mark("model_load_started", model=args.model)
        session = LLMSession(
            model_folder(args.model),
            provider=args.provider,
            threads=args.threads,
            profile_dir=options.ort_profile_dir,
        )
        recorder.mark("model_load_finished", provider=session.provider.active)
        run.manifest = session.manifest.to_dict()
        run.provider = session.provider.to_dict()
        run.extra = {"argv": argv, "max_new_tokens": args.max_new_tokens}
        prompt, arguments = request_from(args).arguments(session)
        stream = session.generate(prompt, **arguments)
        for event in recorder.watch(stream):
            if isinstance(event, TokenDelta) and options.echo is not None:
                options.echo(event.text)
    _ort(session, recorder)
    return {"model": session.manifest.name, "provider": session.provider.active}


def record_agent(argv: list[str], recorder: Recorder, options: RecordOptions) -> dict[str, Any]:
    """`agent run FILE --task TEXT [agent run's options]`: every run event (with each
    generation's timings: GenerationTimed) goes through the recorder."""
    from engine.agent import events as ev
    from engine.agent.agentfile import load
    from engine.agent.prepared import RunOptions, admit_run
    from engine.agent.report import summarize
    from engine.cli.agent import run_parser, terminal_run
    from engine.errors import WorkbenchError

    if argv[:1] != ["run"]:
        raise WorkbenchError(
            "profile record can record `agent run` (e.g. profile record -- agent run "
            f"my.agent.yaml --task 'What is 2 + 2?'), not `agent {' '.join(argv[:1])}`"
        )
    args = run_parser().parse_args(argv[1:])
    agent = load(args.file)
    admit_run(agent, RunOptions.from_args(args))  # refused before the recording starts
    seen: list[ev.RunEvent] = []
    with recorder.run(f"agent {agent.spec.name}: {args.task[:40]!r}", kind="agent") as run:
        with terminal_run(
            agent, args, profile_dir=options.ort_profile_dir, mark=recorder.mark
        ) as prepared:
            model, spec = prepared.model, prepared.spec
            session = getattr(model, "session", None)  # None for a scripted model
            run.manifest = session.manifest.to_dict() if session else {"name": model.name}
            run.provider = session.provider.to_dict() if session else {"active": model.provider}
            for event in recorder.watch(prepared.run):
                seen.append(event)
                if options.echo is not None:
                    _echo_agent(event, options.echo)
        result = summarize(seen)
        run.extra = {
            "argv": argv,
            "agent": spec.name,
            "agent_file": str(agent.path),
            "agent_file_sha256": agent.sha256,
            "task": args.task,
            "transcript": result["transcript"],
            "run_id": result["run_id"],
            "constrained": not args.unconstrained,
        }
    if session is not None:
        _ort(session, recorder)
    return {
        "model": model.name,
        "provider": model.provider,
        "final_answer": result["final_answer"],
        "stop_reason": result["stop_reason"],
        "transcript": result["transcript"],
    }


def _echo_agent(event: Any, echo: Callable[[str], None]) -> None:
    from engine.agent import events as ev

    if isinstance(event, ev.TokenDelta):
        echo(event.text)
    elif isinstance(event, ev.ToolResult):
        state = "ok" if event.ok else event.error_kind
        echo(f"\n  -> {event.tool or '?'}: {state}: {event.output[:200]}\n")


def _ort(session: Any, recorder: Recorder) -> None:
    """ONNX Runtime's operator profile (when it was on) into the session, on its clock."""
    profile = session.end_profiling()
    if profile is not None:
        recorder.ort_profile.extend(ort_profile.read(profile, recorder.t0))
        profile.path.unlink(missing_ok=True)


TARGETS: dict[str, Target] = {
    "generate": record_generate,
    "agent": record_agent,
}
