"""`generate` (one generation with its timings) and `demo` (a short streamed chat)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.output import EXIT_INTERRUPTED, emit_json, err, out
from engine.llm.providers import CHOICES
from engine.llm.request import GenerationRequest
from engine.llm.sampling import SamplingParams

#: `--provider` values: auto, each provider, and DirectML by its long name.
PROVIDER_CHOICES = (*CHOICES, "directml")


def request_from(args: argparse.Namespace) -> GenerationRequest:
    """`generate`'s options as a request (also `profile record -- generate ...`)."""
    return GenerationRequest(
        prompt=args.prompt,
        max_new_tokens=args.max_new_tokens,
        sampling=SamplingParams(
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            repetition_penalty=args.repetition_penalty,
            seed=args.seed,
        ),
        chat=args.chat,
        json_schema=args.json_schema,
        grammar=args.grammar,
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.llm.events import GenerationFinished, TokenDelta
    from engine.llm.session import LLMSession
    from engine.manifest import model_folder
    from engine.progress import CancelToken

    session = LLMSession(model_folder(args.model), provider=args.provider, threads=args.threads)
    if session.provider.reasons:
        err(f"[provider] {session.provider.describe()}")
    prompt, arguments = request_from(args).arguments(session)
    cancel = CancelToken()
    finished: GenerationFinished | None = None
    stream = not args.json
    try:
        for event in session.generate(prompt, **arguments, cancel=cancel):
            if isinstance(event, TokenDelta) and stream:
                out(event.text, end="")
            elif isinstance(event, GenerationFinished):
                finished = event
    except KeyboardInterrupt:
        cancel.cancel()
        err("\ncancelled")
        return EXIT_INTERRUPTED
    assert finished is not None
    st = finished.stats
    if args.json:
        emit_json(
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
        out()
        err(timings_line(st, finished.stop_reason))
    return 0


def timings_line(st: Any, stop_reason: str) -> str:
    return (
        f"[{st.provider}] prompt {st.prompt_tokens} tok, ttft {st.ttft_ms:.0f} ms, "
        f"prefill {st.prefill_tok_s:.0f} tok/s, decode {st.decode_tok_s:.1f} tok/s "
        f"({st.new_tokens} tok, stop: {stop_reason}), peak RSS {st.peak_rss_mb:.0f} MB"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """The headless demo: one streamed generation on the default model, with timings."""
    from engine.llm.chat import chat_prompt
    from engine.llm.events import GenerationFinished, TokenDelta
    from engine.llm.session import LLMSession
    from engine.manifest import model_folder

    session = LLMSession(model_folder(args.model), provider=args.provider)
    err(f"Agent Workbench demo: model {session.manifest.name!r}, {session.provider.describe()}")
    question = "What does a lighthouse do?"
    # A base model continues text: one example exchange shows it the shape of an answer.
    prompt, stop = chat_prompt(
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
    err(f"User: {question}")
    out("Assistant:", end="")
    for event in session.generate(prompt, max_new_tokens=args.max_new_tokens, stop=stop):
        if isinstance(event, TokenDelta):
            out(event.text, end="")
        elif isinstance(event, GenerationFinished):
            out()
            err(timings_line(event.stats, event.stop_reason))
    return 0


def add_generate_options(gen: argparse.ArgumentParser) -> None:
    gen.add_argument("--model", default="default")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--max-new-tokens", type=int, default=128)
    gen.add_argument("--provider", default="auto", choices=PROVIDER_CHOICES)
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


def generate_parser() -> argparse.ArgumentParser:
    """`generate`'s options on their own (for `profile record -- generate ...`)."""
    parser = argparse.ArgumentParser(prog="main.py profile record -- generate")
    add_generate_options(parser)
    return parser


def register(sub: Any) -> None:
    gen = sub.add_parser("generate", help="one generation with its timings")
    add_generate_options(gen)
    gen.set_defaults(func=cmd_generate)

    demo = sub.add_parser("demo", help="one streamed generation with timings (headless)")
    demo.add_argument("--model", default="default")
    demo.add_argument("--provider", default="auto", choices=PROVIDER_CHOICES)
    demo.add_argument("--max-new-tokens", type=int, default=64)
    demo.set_defaults(func=cmd_demo)
