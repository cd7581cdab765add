"""What `profile record -- <command> ...` can record: one entry per command.

A target parses its own command line (the same options as the command itself), runs it
inside `recorder.run(...)` feeding every engine event through `recorder.watch`, and
returns a short summary. Adding `agent run` is one function and one entry in TARGETS.
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
    from engine.cli import _constraint, build_parser, resolve_model
    from engine.llm.chat import render_chat
    from engine.llm.events import TokenDelta
    from engine.llm.sampling import SamplingParams
    from engine.llm.session import LLMSession

    args = build_parser().parse_args(["generate", *argv])
    with recorder.run(f"generate {args.prompt[:40]!r}", kind="generation") as run:
        recorder.mark("model_load_started", model=args.model)
        session = LLMSession(
            resolve_model(args.model),
            provider=args.provider,
            threads=args.threads,
            profile_dir=options.ort_profile_dir,
        )
        recorder.mark("model_load_finished", provider=session.provider.active)
        run.manifest = session.manifest.to_dict()
        run.provider = session.provider.to_dict()
        run.extra = {"argv": argv, "max_new_tokens": args.max_new_tokens}
        params = SamplingParams(
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            repetition_penalty=args.repetition_penalty,
            seed=args.seed,
        )
        prompt: str = args.prompt
        if args.chat:
            prompt = render_chat(session, [{"role": "user", "content": args.prompt}])
        constraint = _constraint(session, args) if (args.json_schema or args.grammar) else None
        stream = session.generate(
            prompt,
            max_new_tokens=args.max_new_tokens,
            sampling=params,
            stop=list(session.manifest.stop_strings) if args.chat else [],
            constraint=constraint,
        )
        for event in recorder.watch(stream):
            if isinstance(event, TokenDelta) and options.echo is not None:
                options.echo(event.text)
    profile = session.end_profiling()
    if profile is not None:
        recorder.ort_profile.extend(ort_profile.read(profile, recorder.t0))
        profile.path.unlink(missing_ok=True)
    return {"model": session.manifest.name, "provider": session.provider.active}


TARGETS: dict[str, Target] = {
    "generate": record_generate,
}
