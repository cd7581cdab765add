"""Load a source with transformers and export it with optimum (text-generation-with-past).

The export extra (torch, transformers, optimum-onnx, gguf, accelerate) is imported only
here, lazily: the runtime never needs it.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from engine.errors import PreparationError
from engine.manifest import NOT_FUSED_ON_REQUEST
from engine.models.export_cache import cached_export, missing_export_extra
from engine.models.families import family_of
from engine.models.graph import keep_last_logits, save_model
from engine.models.sources import Source
from engine.models.stages import stage
from engine.progress import Reporter

EXPORT_TASK = "text-generation-with-past"
#: Bump when the exported graph changes (graph edits, fusion): cached exports are redone.
EXPORT_VERSION = 3


def export_fp32(source: Source, out: Path, report: Reporter, fuse: bool = True) -> Path:
    """Export `source` to `out` (model.onnx + data, configs, tokenizer.json), once; with
    `fuse`, attention is fused where the family allows it (engine/models/fuse.py).

    `out` is a cache: when its marker names the same source hash, nothing is redone, unless
    fusion is wanted and an older fusion version left it unfused (then it is redone).
    """

    def build(staging: Path) -> dict[str, Any]:
        _export(source, staging, report, fuse)
        graph_info: dict[str, Any] = json.loads((staging / "graph.json").read_text())
        return graph_info

    def reusable(marker: dict[str, Any]) -> bool:
        from engine.models.fuse import FUSION_VERSION

        fusion = marker.get("fusion") or {}
        return not fuse or "skipped" not in fusion or fusion.get("version") == FUSION_VERSION

    return cached_export(source, out, EXPORT_VERSION, build, reusable)


def _export(source: Source, out: Path, report: Reporter, fuse: bool) -> None:
    try:
        import torch
        from optimum.exporters.onnx import onnx_export_from_model
        from transformers import AutoModelForCausalLM
    except ImportError as exc:
        raise missing_export_extra("model preparation", exc) from exc
    report("load", 0, 1, f"loading {source.label} with transformers")
    # transformers' default attention (sdpa) silently drops attention soft-capping (Gemma 2);
    # the eager implementation is the model as trained, and what the fused graph computes.
    options: dict[str, Any] = {"dtype": torch.float32}
    if _attention_softcap(source):
        options["attn_implementation"] = "eager"
    try:
        if source.kind in ("default", "gguf"):
            model = AutoModelForCausalLM.from_pretrained(
                str(source.path.parent), gguf_file=source.path.name, **options
            )
        else:
            model = AutoModelForCausalLM.from_pretrained(str(source.path), **options)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise PreparationError(f"transformers could not load {source.path}: {exc}") from exc
    model.eval()
    report("load", 1, 1, type(model).__name__)
    report("export", 0, 1, f"optimum export ({EXPORT_TASK})")
    raw = out / "optimum"
    # The tracer's warnings (Python booleans, advanced indexing) are about shapes the
    # export handles; they would bury the progress lines the person is watching.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_export_from_model(model, str(raw), task=EXPORT_TASK, do_validation=False)
    config = model.config.to_dict()
    del model
    report("export", 1, 1, "exported")
    _finish_folder(raw, out, source, config, report, fuse)


def _attention_softcap(source: Source) -> bool:
    if source.kind != "hf":
        return source.family == "gemma2"
    config = json.loads((source.path / "config.json").read_text(encoding="utf-8"))
    return bool(config.get("attn_logit_softcapping"))


def _finish_folder(
    raw: Path, out: Path, source: Source, config: dict[str, Any], report: Reporter, fuse: bool
) -> None:
    import onnx

    from engine.models.fuse import FUSION_VERSION, fuse_attention

    report("graph", 0, 1, "last-position logits, attention fusion")
    model = onnx.load(str(raw / "model.onnx"))
    keep_last_logits(model)
    fusion: dict[str, Any] = {"skipped": NOT_FUSED_ON_REQUEST, "version": FUSION_VERSION}
    if fuse:
        with stage("fuse", str(source.path), family_of(config), raw / "config.json"):
            fusion = fuse_attention(model, config)
    (out / "graph.json").write_text(json.dumps({"logits": "last", "fusion": fusion}))
    save_model(model, out / "model.onnx")
    del model
    for name in ("config.json", "generation_config.json"):
        if (raw / name).is_file():
            shutil.copy2(raw / name, out / name)
    _write_tokenizer(source, out)
    shutil.rmtree(raw)
    report("graph", 1, 1, "done")


def _write_tokenizer(source: Source, out: Path) -> None:
    if source.kind in ("default", "gguf"):
        from engine.models.gguf_tokenizer import build_tokenizer_json, read_gguf_metadata

        (out / "tokenizer.json").write_text(build_tokenizer_json(source.path), encoding="utf-8")
        template = read_gguf_metadata(
            source.path, keep=lambda key: key == "tokenizer.chat_template"
        ).get("tokenizer.chat_template")
        if isinstance(template, str):
            (out / "source_chat_template.jinja").write_text(template, encoding="utf-8")
        return
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "chat_template.jinja",
    ):
        if (source.path / name).is_file():
            shutil.copy2(source.path / name, out / name)
    if not (out / "tokenizer.json").is_file():
        try:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(source.path))
            tok.backend_tokenizer.save(str(out / "tokenizer.json"))
        except (OSError, ValueError, AttributeError) as exc:
            raise PreparationError(
                f"{source.path} has no tokenizer.json and transformers could not build a fast "
                f"tokenizer from it ({exc})"
            ) from exc
