"""`model prepare`: source -> fp32 export (cached) -> quantize -> validate -> prepared folder.

Everything is built in a temporary folder next to the target and moved into place at the
end, so an interrupted preparation never leaves a half model that looks valid. The same
inputs (source hash, recipe, pipeline version) give the same cache key: re-running is
instant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import QualityError
from engine.manifest import GraphInfo, LeanGraph, Manifest, check_folder, home_folder
from engine.models.chat_templates import MODEL, chat_setup, check_choice, check_template
from engine.models.export import EXPORT_VERSION, export_fp32
from engine.models.families import family_of
from engine.models.graph import write_lean_graph
from engine.models.quantize import Recipe, quantize, recipe
from engine.models.sources import DEFAULT_NAME, Source, resolve
from engine.models.stages import stage, tool_versions
from engine.models.validate import compare, reference_text
from engine.progress import CancelToken, ProgressCallback, Reporter

PIPELINE_VERSION = 7
DEFAULT_QUANT = "int8-lm4-rerank"
#: The default recipe when the model will run on a GPU provider (CUDA, DirectML).
GPU_QUANT = "gpu"
DEFAULT_MIN_AGREEMENT = 0.90


def default_quant(provider: str = "auto") -> str:
    """The recipe to use when none is named: `gpu` when a session with this provider
    preference will run on CUDA or DirectML, else the CPU default."""
    from engine.llm.providers import probe_device

    return GPU_QUANT if probe_device(provider) in ("cuda", "dml") else DEFAULT_QUANT


@dataclass(frozen=True)
class Prepared:
    folder: Path
    manifest: Manifest
    reused: bool


def reuse_prepared(target: Path, key: str, force: bool, report: Reporter) -> Prepared | None:
    """The prepared folder `target` when it was built from the same inputs (`key`) and
    `force` is off; None when it must be (re)built."""
    if force or not target.exists():
        return None
    try:
        existing = check_folder(target)
        if existing.cache_key == key and not stale_fusion(existing):
            report("done", 1, 1, f"{target.name} is already prepared")
            return Prepared(target, existing, reused=True)
    except Exception:  # noqa: BLE001 - a broken folder is simply rebuilt
        pass
    return None


def stale_fusion(manifest: Manifest) -> bool:
    """Was this model left unfused by an older fusion pass (one that may now fuse it)?"""
    from engine.models.fuse import FUSION_VERSION

    fusion = manifest.graph.fusion
    return bool(fusion.skipped) and not fusion.by_request and fusion.version != FUSION_VERSION


@contextmanager
def staging_folder(name: str) -> Iterator[Path]:
    """A temporary folder next to the prepared models, removed on exit unless moved away."""
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=paths.models_dir()))
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def graph_opset(path: Path) -> int:
    """The default-domain opset of an ONNX file (its external data is not read)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False)
    return next((o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")), 0)


def prepare(
    source: str = DEFAULT_NAME,
    quant: str = DEFAULT_QUANT,
    name: str | None = None,
    force: bool = False,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    chat_template: str = MODEL,
    fuse: bool = True,
) -> Prepared:
    """Prepare `source` into the data home's models folder (see the module docstring).
    `fuse=False` keeps optimum's unfused attention (the --no-fuse escape hatch).

    `chat_template`: "model" (the model's own; none means a base model), "base", "gemma"
    (the built-in formats) or the path of a Jinja template file.

    Every failure is a WorkbenchError: the known ones say what to do, and anything
    unexpected inside a stage becomes a PreparationError naming the stage, the source and
    its family, what to try, and a report file (engine/models/stages.py).
    """
    report = Reporter(progress, cancel)
    rec = recipe(quant)
    check_choice(chat_template)
    with stage("source", source):
        src = resolve(source, report)
        name = name or (DEFAULT_NAME if src.kind == "default" else f"{_slug(src.label)}-{quant}")
        target = home_folder(name)
        key = _cache_key(src, rec, fuse, chat_template)
        reused = reuse_prepared(target, key, force, report)
    if reused is not None:
        return reused
    config = src.path / "config.json" if src.kind == "hf" else None
    work = paths.models_dir() / ".work" / f"{src.sha256[:16]}-fp32{'' if fuse else '-unfused'}"
    with stage("export", source, src.family, config):
        fp32 = export_fp32(src, work, report, fuse=fuse)
        check_template(fp32, chat_template, name)  # before the slow stages, not after
    config = fp32 / "config.json"
    with staging_folder(name) as staging:
        with stage("quantize", source, src.family, config):
            details = _build(fp32, staging, src, rec, report)
        with stage("package", source, src.family, config):
            _write_support_files(fp32, staging, src)
            manifest = _manifest(name, src, rec, details, staging, key, chat_template)
            lean = write_lean_graph(staging)
            if lean:
                manifest.graph = replace(manifest.graph, lean=LeanGraph.from_dict(lean))
        with stage("validate", source, src.family, config):
            manifest.validation = _validate(fp32, staging, manifest, rec, threads, report)
        agreement = manifest.validation.get("top1_agreement", 1.0)
        if agreement < min_agreement and not force:
            raise QualityError(
                f"quantization {quant!r} keeps only {agreement:.2f} top-1 agreement with the fp32 "
                f"export (threshold {min_agreement:.2f}, perplexity "
                f"{manifest.validation['perplexity']:.2f} vs "
                f"{manifest.validation['perplexity_fp32']:.2f})"
                "; choose a higher-precision quantization (e.g. --quant int8) or pass --force"
                " to keep it anyway"
            )
        with stage("install", source, src.family, config):
            manifest.files = _files(staging)
            manifest.size_bytes = sum(manifest.files.values())
            manifest.write(staging)
            _move_into_place(staging, target)
    report("done", 1, 1, f"prepared {name}")
    return Prepared(target, check_folder(target), reused=False)


def _build(fp32: Path, out: Path, src: Source, rec: Recipe, report: Reporter) -> dict[str, Any]:
    if rec.name == "fp32":
        for path in fp32.iterdir():
            if path.name.startswith("model.onnx"):
                shutil.copy2(path, out / path.name)
        return {}
    return quantize(fp32 / "model.onnx", out / "model.onnx", rec, report)


def _write_support_files(fp32: Path, out: Path, src: Source) -> None:
    for path in fp32.iterdir():
        if path.suffix in (".json", ".jinja") and not path.name.startswith("export"):
            shutil.copy2(path, out / path.name)


def _manifest(
    name: str,
    src: Source,
    rec: Recipe,
    details: dict[str, Any],
    folder: Path,
    key: str,
    chat_template: str = MODEL,
) -> Manifest:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    gen = {}
    if (folder / "generation_config.json").is_file():
        gen = json.loads((folder / "generation_config.json").read_text(encoding="utf-8"))
    eos = gen.get("eos_token_id", config.get("eos_token_id"))
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    graph_info = GraphInfo()
    if (folder / "graph.json").is_file():
        graph_info = GraphInfo.from_dict(
            json.loads((folder / "graph.json").read_text(encoding="utf-8"))
        )
    fused_context = graph_info.fusion.context
    chat = chat_setup(folder, chat_template, name, eos_ids, config.get("bos_token_id"))
    (folder / "chat_template.jinja").write_text(chat.template, encoding="utf-8")
    return Manifest(
        name=name,
        kind="causal-lm",
        family=src.family or family_of(config),
        source=src.to_dict(),
        quantization={"recipe": rec.name, **rec.to_dict(), "nodes": _count(details)},
        instruct=chat.instruct,
        stop_strings=chat.stop_strings,
        eos_token_ids=chat.eos_token_ids,
        bos_token_id=config.get("bos_token_id"),
        context_length=int(min(config.get("max_position_embeddings", 2048), 32768, fused_context)),
        graph=graph_info,
        logits="last",
        opset=graph_opset(folder / "model.onnx"),
        tools=tool_versions(),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cache_key=key,
    )


def _count(details: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for kind in ("matmuls", "gathers"):
        for bits in details.get(kind, {}).values():
            label = f"{kind[:-1]}_{bits}bit"
            counts[label] = counts.get(label, 0) + 1
    return counts


def _validate(
    fp32: Path,
    folder: Path,
    manifest: Manifest,
    rec: Recipe,
    threads: int | None,
    report: Reporter,
) -> dict[str, Any]:
    from engine.llm.session import LLMSession

    manifest.files = _files(folder)
    manifest.write(folder)
    ref_manifest = replace(manifest, files={}, graph=replace(manifest.graph, lean=None))
    ref_manifest.write(fp32)
    ids_text = reference_text()
    reference = LLMSession(fp32, provider="cpu", threads=threads)
    ids = reference.encode(ids_text)[:320]
    if rec.name == "fp32":
        from engine.models.validate import perplexity

        report("validate", 0, 1, "fp32 perplexity")
        ppl = perplexity(reference.logits_for(ids), ids)
        return {
            "tokens": len(ids) - 1,
            "top1_agreement": 1.0,
            "perplexity": ppl,
            "perplexity_fp32": ppl,
            "mean_kl": 0.0,
        }
    candidate = LLMSession(folder, provider="cpu", threads=threads)
    try:
        return compare(reference, candidate, ids, report)
    finally:
        del reference, candidate


def _files(folder: Path) -> dict[str, int]:
    return {
        p.name: p.stat().st_size
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "model.json"
    }


def _move_into_place(staging: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.replace(old)
    staging.replace(target)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _cache_key(src: Source, rec: Recipe, fuse: bool = True, chat_template: str = MODEL) -> str:
    inputs: dict[str, Any] = {
        "source": src.sha256,
        "recipe": rec.to_dict(),
        "pipeline": PIPELINE_VERSION,
        "export": EXPORT_VERSION,
    }
    if chat_template != MODEL:  # another template is another prepared model
        inputs["chat_template"] = chat_template
    if not fuse:  # (only then: the keys of fused models stay what they were)
        inputs["fuse"] = False
    blob = json.dumps(inputs, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _slug(text: str) -> str:
    keep = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(part for part in keep.split("-") if part)[:40] or "model"
