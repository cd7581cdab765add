"""`model prepare` and `model list`: prepared models (chat models and embedders)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli.output import emit_json, err, out
from engine.progress import TerminalProgress


def cmd_prepare(args: argparse.Namespace) -> int:
    from engine.models.embed_export import DEFAULT_EMBEDDER_SOURCE
    from engine.models.prepare import default_quant, prepare

    if args.kind == "embedder" or args.source == DEFAULT_EMBEDDER_SOURCE:
        source = DEFAULT_EMBEDDER_SOURCE if args.source == "default" else args.source
        result = _prepare_embedder(args, source, args.name)
        if args.json:
            emit_json(_summary(result))
        else:
            _say_embedder(result)
        return 0
    with TerminalProgress() as bar:
        result = prepare(
            source=args.source,
            quant=args.quant or default_quant(args.provider),
            name=args.name,
            force=args.force,
            min_agreement=args.min_agreement,
            threads=args.threads,
            progress=bar,
            chat_template=args.chat_template,
            fuse=not args.no_fuse,
        )
    embedder = None
    if args.source == "default" and args.kind == "auto":
        # The default chat model comes with the default embedder (agent memory needs it).
        embedded = _prepare_embedder(args, DEFAULT_EMBEDDER_SOURCE, None)
        if not args.json:
            _say_embedder(embedded)
        embedder = _summary(embedded)
    if args.json:
        emit_json({**_summary(result), "embedder": embedder})
        return 0
    manifest, val = result.manifest, result.manifest.validation
    err(
        f"{'already prepared' if result.reused else 'prepared'}: {manifest.name} "
        f"({manifest.quantization['recipe']}, {manifest.size_bytes / 1e6:.0f} MB) "
        f"in {result.folder}"
    )
    entry = manifest.summary(result.folder)
    err(f"  family {entry['family']}; {entry['fusion_note']}")
    if val:
        err(
            f"  top-1 agreement with fp32: {val['top1_agreement']:.3f}; perplexity "
            f"{val['perplexity']:.2f} (fp32 {val['perplexity_fp32']:.2f})"
        )
    return 0


def _prepare_embedder(args: argparse.Namespace, source: str, name: str | None) -> Any:
    from engine.models.embed_prepare import DEFAULT_EMBED_QUANT, prepare_embedder

    with TerminalProgress() as bar:
        return prepare_embedder(
            source=source,
            quant=args.quant if args.kind == "embedder" and args.quant else DEFAULT_EMBED_QUANT,
            name=name,
            force=args.force,
            min_cosine=args.min_cosine,
            threads=args.threads,
            progress=bar,
        )


def _summary(result: Any) -> dict[str, Any]:
    return {
        **result.manifest.summary(result.folder),
        "reused": result.reused,
        "manifest": result.manifest.to_dict(),
    }


def _say_embedder(result: Any) -> None:
    m = result.manifest
    err(
        f"{'already prepared' if result.reused else 'prepared'}: {m.name} (embedder, "
        f"{m.quantization['recipe']}, {m.size_bytes / 1e6:.0f} MB) in {result.folder}"
    )
    if m.validation:
        val = m.validation
        err(f"  cosine with fp32: min {val['cosine_min']:.4f}, mean {val['cosine_mean']:.4f}")


def cmd_list(args: argparse.Namespace) -> int:
    from engine.manifest import prepared_models

    models = prepared_models()
    if args.json:
        emit_json(
            {"models": [{**m.summary(folder), "manifest": m.to_dict()} for folder, m in models]}
        )
        return 0
    if not models:
        err("no prepared models; run: python main.py model prepare")
        return 0
    for folder, m in models:
        val = m.validation.get("top1_agreement", m.validation.get("cosine_min"))
        embedder = m.kind == "embedder"
        label = "min cosine" if embedder else "agreement"
        agreement = (
            f"{label} {val:.{4 if embedder else 3}f}" if val is not None else "not validated"
        )
        kind = "embedder" if embedder else "instruct" if m.instruct else "base"
        entry = m.summary(folder)
        fused = "fused" if entry["fused"] else "unfused"
        out(
            f"{m.name:<24} {m.quantization.get('recipe', '?'):<10} "
            f"{m.size_bytes / 1e6:8.0f} MB  {agreement}  {kind}  {entry['family']} {fused}"
            f"  {m.source.get('label', '')}"
        )
        if not entry["fused"] and not embedder:
            out(f"{'':<24} {entry['fusion_note']}")
    return 0


def register(sub: Any) -> None:
    from engine.llm.providers import CHOICES as PROVIDER_CHOICES
    from engine.models.prepare import DEFAULT_MIN_AGREEMENT, DEFAULT_QUANT, GPU_QUANT
    from engine.models.quantize import RECIPES

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
    prep.add_argument(
        "--quant",
        choices=list(RECIPES),
        help=f"default: {DEFAULT_QUANT} on CPU, {GPU_QUANT} when --provider runs on CUDA/DirectML",
    )
    prep.add_argument(
        "--provider",
        default="auto",
        choices=list(PROVIDER_CHOICES),
        help="where the model will run (chooses the default --quant)",
    )
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
    prep.add_argument(
        "--chat-template",
        default="model",
        metavar="model|base|gemma|FILE",
        help="the model's own chat template (default; none: a base model), a built-in format "
        "(base: plain transcript, gemma: Gemma's turns) or a Jinja template file",
    )
    prep.add_argument(
        "--no-fuse",
        action="store_true",
        help="keep optimum's unfused attention (when fusion fails or for comparison)",
    )
    prep.add_argument("--threads", type=int)
    prep.add_argument("--json", action="store_true")
    prep.set_defaults(func=cmd_prepare)
    lst = model.add_parser("list", help="prepared models and their manifests")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)
