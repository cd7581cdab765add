"""The headless commands (the contract in DESIGN.md).

`--json` output is exactly one JSON object on stdout; progress and human-readable text
go to stderr. Errors the user can act on exit with status 2 and one clear message.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError

EXIT_USER_ERROR = 2


def _emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=None, default=str) + "\n")
    sys.stdout.flush()


def _err(text: str = "", end: str = "\n") -> None:
    sys.stderr.write(text + end)
    sys.stderr.flush()


# --------------------------------------------------------------------------- model
def cmd_model_prepare(args: argparse.Namespace) -> int:
    from engine.models.embed_export import DEFAULT_EMBEDDER_SOURCE
    from engine.models.prepare import DEFAULT_QUANT, prepare
    from engine.progress import TerminalProgress

    if args.kind == "embedder" or args.source == DEFAULT_EMBEDDER_SOURCE:
        from engine.memory.commands import cmd_prepare_embedder

        return cmd_prepare_embedder(args)
    bar = TerminalProgress()
    try:
        result = prepare(
            source=args.source,
            quant=args.quant or DEFAULT_QUANT,
            name=args.name,
            force=args.force,
            min_agreement=args.min_agreement,
            threads=args.threads,
            progress=bar,
        )
    finally:
        bar.close()
    manifest = result.manifest
    embedder = None
    if args.source == "default" and args.kind == "auto":
        from engine.memory.commands import prepare_default_embedder

        embedder = prepare_default_embedder(args)
    if args.json:
        _emit_json(
            {
                "folder": str(result.folder),
                "reused": result.reused,
                "manifest": manifest.to_dict(),
                "embedder": embedder,
            }
        )
    else:
        val = manifest.validation
        _err(
            f"{'already prepared' if result.reused else 'prepared'}: {manifest.name} "
            f"({manifest.quantization['recipe']}, {manifest.size_bytes / 1e6:.0f} MB) "
            f"in {result.folder}"
        )
        if val:
            _err(
                f"  top-1 agreement with fp32: {val['top1_agreement']:.3f}; perplexity "
                f"{val['perplexity']:.2f} (fp32 {val['perplexity_fp32']:.2f})"
            )
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from engine.models.prepare import list_models

    models = list_models()
    if args.json:
        _emit_json({"models": [m.to_dict() for m in models]})
        return 0
    if not models:
        _err("no prepared models; run: python main.py model prepare")
        return 0
    for m in models:
        val = m.validation.get("top1_agreement", m.validation.get("cosine_min"))
        embedder = m.kind == "embedder"
        label = "min cosine" if embedder else "agreement"
        agreement = (
            f"{label} {val:.{4 if embedder else 3}f}" if val is not None else "not validated"
        )
        kind = "embedder" if embedder else "instruct" if m.instruct else "base"
        sys.stdout.write(
            f"{m.name:<24} {m.quantization.get('recipe', '?'):<10} "
            f"{m.size_bytes / 1e6:8.0f} MB  {agreement}  {kind}"
            f"  {m.source.get('label', '')}\n"
        )
    return 0


def resolve_model(name: str) -> Path:
    """A prepared model by name (`default` included) or a path to a prepared folder."""
    from engine.models.prepare import model_folder

    path = Path(name).expanduser()
    if path.is_dir():
        return path
    return model_folder(name)


# --------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from engine.llm.events import GenerationFinished, TokenDelta
    from engine.llm.session import LLMSession
    from engine.progress import CancelToken

    session = LLMSession(resolve_model(args.model), provider=args.provider, threads=args.threads)
    if session.provider.reasons:
        _err(f"[provider] {session.provider.describe()}")
    prompt, request = _generation_request(session, args)
    cancel = CancelToken()
    finished: GenerationFinished | None = None
    stream = not args.json
    try:
        for event in session.generate(prompt, **request, cancel=cancel):
            if isinstance(event, TokenDelta) and stream:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, GenerationFinished):
                finished = event
    except KeyboardInterrupt:
        cancel.cancel()
        _err("\ncancelled")
        return 130
    assert finished is not None
    st = finished.stats
    if args.json:
        _emit_json(
            {
                "text": finished.text,
                "provider": st.provider,
                "prompt_tokens": st.prompt_tokens,
                "new_tokens": st.new_tokens,
                "ttft_ms": st.ttft_ms,
                "prefill_tok_s": st.prefill_tok_s,
                "decode_tok_s": st.decode_tok_s,
                "stop_reason": finished.stop_reason,
                "peak_rss_mb": st.peak_rss_mb,
                "provider_report": session.provider.to_dict(),
            }
        )
    else:
        sys.stdout.write("\n")
        _err(_timings_line(st, finished.stop_reason))
    return 0


def _timings_line(st: Any, stop_reason: str) -> str:
    return (
        f"[{st.provider}] prompt {st.prompt_tokens} tok, ttft {st.ttft_ms:.0f} ms, "
        f"prefill {st.prefill_tok_s:.0f} tok/s, decode {st.decode_tok_s:.1f} tok/s "
        f"({st.new_tokens} tok, stop: {stop_reason}), peak RSS {st.peak_rss_mb:.0f} MB"
    )


def _generation_request(session: Any, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """`generate`'s options -> (prompt, the rest of `session.generate`'s arguments)."""
    from engine.llm.sampling import SamplingParams

    sampling = SamplingParams(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
    )
    prompt: str = args.prompt
    if args.chat:
        from engine.llm.chat import render_chat

        prompt = render_chat(session, [{"role": "user", "content": args.prompt}])
    return prompt, {
        "max_new_tokens": args.max_new_tokens,
        "sampling": sampling,
        "stop": list(session.manifest.stop_strings) if args.chat else [],
        "constraint": _constraint(session, args) if (args.json_schema or args.grammar) else None,
    }


def _constraint(session: Any, args: argparse.Namespace) -> Any:
    from engine.llm.constraints import ConstraintTokenizer, Grammar, GrammarConstraint

    if args.json_schema:
        text = args.json_schema
        path = Path(text)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        grammar = Grammar.json_schema(text, compact=True)
    else:
        grammar = Grammar.lark(Path(args.grammar).read_text(encoding="utf-8"))
    tok = ConstraintTokenizer.from_file(session.folder / "tokenizer.json", sorted(session.eos_ids))
    return GrammarConstraint(tok, grammar)


# --------------------------------------------------------------------------- bench
def cmd_bench(args: argparse.Namespace) -> int:
    from engine.telemetry.bench import BenchConfig, format_table, run_bench

    config = BenchConfig(
        model=resolve_model(args.model),
        prompt_tokens=args.prompt_tokens,
        new_tokens=args.new_tokens,
        runs=args.runs,
        threads=args.threads,
        provider=args.provider,
        vs=args.vs,
        warmup=args.warmup,
    )
    result = run_bench(config, log=_err)
    if args.json:
        _emit_json(result)
    else:
        sys.stdout.write(format_table(result) + "\n")
    return 0


# --------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    """The headless demo: one streamed generation on the default model, with timings."""
    from engine.llm.chat import render_chat
    from engine.llm.events import GenerationFinished, TokenDelta
    from engine.llm.session import LLMSession

    session = LLMSession(resolve_model(args.model), provider=args.provider)
    _err(f"Agent Workbench demo: model {session.manifest.name!r}, {session.provider.describe()}")
    question = "What does a lighthouse do?"
    # A base model continues text: one example exchange shows it the shape of an answer.
    prompt = render_chat(
        session,
        [
            {
                "role": "system",
                "content": "A conversation between a curious user and a helpful "
                "assistant who answers in one or two sentences.",
            },
            {"role": "user", "content": "What is the capital of Italy?"},
            {"role": "assistant", "content": "The capital of Italy is Rome."},
            {"role": "user", "content": question},
        ],
    )
    _err(f"User: {question}")
    sys.stdout.write("Assistant:")
    for event in session.generate(
        prompt, max_new_tokens=args.max_new_tokens, stop=session.manifest.stop_strings
    ):
        if isinstance(event, TokenDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, GenerationFinished):
            sys.stdout.write("\n")
            _err(_timings_line(event.stats, event.stop_reason))
    return 0


# --------------------------------------------------------------------------- profile
def cmd_profile_sources(args: argparse.Namespace) -> int:
    """Which hardware counters this machine offers, and why the others are missing."""
    from engine.telemetry.sources import default_sources

    sources = default_sources()
    rows = [
        {
            "name": s.name,
            "available": s.available,
            "reason": s.reason,
            "channels": [c.name for c in s.channels],
        }
        for s in sources
    ]
    if args.json:
        _emit_json({"sources": rows})
        return 0
    for row in rows:
        state = "available" if row["available"] else f"unavailable: {row['reason']}"
        sys.stdout.write(f"{row['name']:<12} {state}\n")
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from engine.agent import commands as agent_commands
    from engine.llm.providers import CHOICES
    from engine.models.prepare import DEFAULT_MIN_AGREEMENT, DEFAULT_QUANT
    from engine.models.quantize import RECIPES

    parser = argparse.ArgumentParser(prog="main.py", description="Agent Workbench")
    sub = parser.add_subparsers(dest="command", required=True)

    model = sub.add_parser("model", help="prepare and list models").add_subparsers(
        dest="model_command", required=True
    )
    prep = model.add_parser("prepare", help="source -> ONNX export -> quantize -> validate")
    prep.add_argument(
        "--source",
        default="default",
        help="default | embedder-default | path to a GGUF file | path to a Hugging Face folder",
    )
    prep.add_argument("--kind", default="auto", choices=["auto", "causal-lm", "embedder"])
    prep.add_argument("--quant", choices=list(RECIPES), help=f"default: {DEFAULT_QUANT}")
    prep.add_argument("--name", help="name of the prepared model (default: derived)")
    prep.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if prepared; keep a quantization below the threshold",
    )
    prep.add_argument(
        "--min-agreement",
        type=float,
        default=DEFAULT_MIN_AGREEMENT,
        help="refuse a quantization whose top-1 agreement with fp32 is lower",
    )
    prep.add_argument(
        "--min-cosine",
        type=float,
        default=0.98,
        help="embedders: refuse a quantization whose min cosine with fp32 is lower",
    )
    prep.add_argument("--threads", type=int)
    prep.add_argument("--json", action="store_true")
    prep.set_defaults(func=cmd_model_prepare)
    lst = model.add_parser("list", help="prepared models and their manifests")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_model_list)

    gen = sub.add_parser("generate", help="one generation with its timings")
    gen.add_argument("--model", default="default")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--max-new-tokens", type=int, default=128)
    gen.add_argument("--provider", default="auto", choices=[*CHOICES, "directml"])
    gen.add_argument("--threads", type=int)
    gen.add_argument("--temperature", type=float, default=0.0)
    gen.add_argument("--top-k", type=int, default=0)
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--repetition-penalty", type=float, default=1.0)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template")
    gen.add_argument("--json-schema", help="constrain output to this JSON Schema (text or file)")
    gen.add_argument("--grammar", help="constrain output to this Lark grammar file")
    gen.add_argument("--json", action="store_true")
    gen.set_defaults(func=cmd_generate)

    bench = sub.add_parser("bench", help="side-by-side throughput")
    bench.add_argument("--model", default="default")
    bench.add_argument("--prompt-tokens", type=int, default=209)
    bench.add_argument("--new-tokens", type=int, default=128)
    bench.add_argument("--runs", type=int, default=3)
    bench.add_argument("--warmup", type=int, default=1)
    bench.add_argument("--threads", type=int)
    bench.add_argument("--provider", default="auto", choices=[*CHOICES, "directml"])
    bench.add_argument(
        "--vs",
        action="append",
        choices=["optimum", "llamacpp"],
        default=[],
        help="also run a peer engine (repeatable)",
    )
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=cmd_bench)

    profile = sub.add_parser("profile", help="hardware counters and profiling").add_subparsers(
        dest="profile_command", required=True
    )
    sources = profile.add_parser("sources", help="which hardware counters are available")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(func=cmd_profile_sources)
    from engine.telemetry.commands import register as register_telemetry

    register_telemetry(profile, bench)

    agent_commands.register(sub)
    demo = sub.add_parser("demo", help="one streamed generation with timings (headless)")
    demo.add_argument("--model", default="default")
    demo.add_argument("--provider", default="auto", choices=[*CHOICES, "directml"])
    demo.add_argument("--max-new-tokens", type=int, default=64)
    demo.set_defaults(func=cmd_demo)
    from engine.tools import commands as tools_commands

    tools_commands.register(sub)

    from engine.memory.commands import register as register_memory

    register_memory(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except WorkbenchError as exc:
        _err(f"error: {exc}")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
