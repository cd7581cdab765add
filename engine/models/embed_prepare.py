"""`model prepare --kind embedder`: source -> fp32 export (cached) -> quantize -> validate.

The same shape as the causal-LM pipeline (engine/models/prepare.py): built in a staging
folder, moved into place when complete, cache key from source hash + recipe + pipeline
version. Quantization is weight-only (MatMulNBits for the encoder's MatMuls, an 8-bit
GatherBlockQuantized word-embedding table); validation embeds a fixed sentence set with
the quantized and the fp32 model and reports the min and mean cosine between the two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from engine import paths
from engine.errors import PreparationError, QualityError
from engine.manifest import Manifest, check_folder, home_folder
from engine.models.embed_export import (
    DEFAULT_EMBEDDER_NAME,
    DEFAULT_EMBEDDER_SOURCE,
    EMBED_EXPORT_VERSION,
    export_embedder,
    resolve_embedder,
)
from engine.models.graph import save_model
from engine.models.prepare import (
    Prepared,
    _files,
    _move_into_place,
    _slug,
    graph_opset,
    reuse_prepared,
    stage,
    staging_folder,
    tool_versions,
)
from engine.models.quantize import Recipe, _gather_node, _matmul_node, replace_nodes
from engine.models.sources import Source
from engine.progress import CancelToken, ProgressCallback, Reporter

EMBED_PIPELINE_VERSION = 1
DEFAULT_EMBED_QUANT = "int8"
DEFAULT_MIN_COSINE = 0.98
SENTENCES_FILE = paths.resource("validation", "embedder_sentences.txt")
#: Weight-only recipes for encoders. accuracy_level 0 keeps activations in fp32.
EMBED_RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("fp32", 0, 0, 0, description="no quantization (the reference)"),
        Recipe("int8", 8, 8, 8, accuracy_level=0, description="8-bit MatMuls and embedding"),
        Recipe("int4", 4, 4, 8, accuracy_level=0, description="4-bit MatMuls, 8-bit embedding"),
    )
}


def embed_recipe(name: str) -> Recipe:
    try:
        return EMBED_RECIPES[name]
    except KeyError:
        raise PreparationError(
            f"unknown embedder quantization {name!r}: choose one of {', '.join(EMBED_RECIPES)}"
        ) from None


def validation_sentences() -> list[str]:
    lines = SENTENCES_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def prepare_embedder(
    source: str = DEFAULT_EMBEDDER_SOURCE,
    quant: str = DEFAULT_EMBED_QUANT,
    name: str | None = None,
    force: bool = False,
    min_cosine: float = DEFAULT_MIN_COSINE,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Prepared:
    report = Reporter(progress, cancel)
    rec = embed_recipe(quant)
    with stage("source", source):
        src = resolve_embedder(source)
        if name is None:
            default = source == DEFAULT_EMBEDDER_SOURCE
            name = DEFAULT_EMBEDDER_NAME if default else f"{_slug(src.label)}-{quant}"
        target = home_folder(name)
        key = _cache_key(src, rec)
        reused = reuse_prepared(target, key, force, report)
    if reused is not None:
        return reused
    work = paths.models_dir() / ".work" / f"{src.sha256[:16]}-embed-fp32"
    with stage("export", source):
        fp32 = export_embedder(src, work, report)
    with staging_folder(name) as staging:
        with stage("quantize", source):
            details = _quantize(fp32 / "model.onnx", staging / "model.onnx", rec, report)
        with stage("package", source):
            for path in fp32.iterdir():
                if path.suffix == ".json" and path.name not in ("export.json", "embedding.json"):
                    shutil.copy2(path, staging / path.name)
            manifest = _manifest(name, src, rec, details, fp32, staging, key)
            manifest.files = _files(staging)
            manifest.size_bytes = sum(manifest.files.values())
            manifest.write(staging)
        with stage("validate", source):
            manifest.validation = _validate(fp32, staging, manifest, threads, report)
        if manifest.validation["cosine_min"] < min_cosine and not force:
            raise QualityError(
                f"embedder quantization {quant!r} reaches a minimum cosine of "
                f"{manifest.validation['cosine_min']:.4f} with the fp32 export (threshold "
                f"{min_cosine:.3f}, mean {manifest.validation['cosine_mean']:.4f}); choose a "
                "higher-precision quantization (e.g. --quant int8 or fp32) or pass --force"
            )
        with stage("install", source):
            manifest.write(staging)
            _move_into_place(staging, target)
    report("done", 1, 1, f"prepared {name}")
    return Prepared(target, check_folder(target), reused=False)


def _quantize(src: Path, dst: Path, rec: Recipe, report: Reporter) -> dict[str, Any]:
    """Weight-only: every MatMul with a 2-D weight; the word-embedding Gather (rows >= 1024)."""
    if rec.name == "fp32":
        save_model(onnx.load(str(src)), dst)
        return {}
    model = onnx.load(str(src))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    counts: dict[str, int] = {}
    dropped: set[str] = set()
    new_inits: list[onnx.TensorProto] = []
    nodes = list(graph.node)
    for index, node in enumerate(nodes):
        report("quantize", index, len(nodes), node.name)
        if (
            node.op_type == "MatMul"
            and node.input[1] in inits
            and len(inits[node.input[1]].dims) == 2
        ):
            weight = onnx.numpy_helper.to_array(inits[node.input[1]])
            q_node, tensors = _matmul_node(node, weight, rec.layer_bits, rec, rec.block_size)
            dropped.add(node.input[1])
            label = f"matmul_{rec.layer_bits}bit"
        elif (
            node.op_type == "Gather"
            and node.input[0] in inits
            and len(inits[node.input[0]].dims) == 2
            and inits[node.input[0]].dims[0] >= 1024
            and inits[node.input[0]].dims[1] % rec.block_size == 0
        ):
            weight = onnx.numpy_helper.to_array(inits[node.input[0]])
            q_node, tensors = _gather_node(node, weight, rec)
            dropped.add(node.input[0])
            label = f"gather_{rec.embed_bits}bit"
        else:
            continue
        nodes[index] = q_node
        new_inits.extend(tensors)
        counts[label] = counts.get(label, 0) + 1
    replace_nodes(model, nodes, dropped, new_inits)
    save_model(model, dst)
    report("quantize", len(nodes), len(nodes), "written")
    return counts


def _manifest(
    name: str,
    src: Source,
    rec: Recipe,
    counts: dict[str, int],
    fp32: Path,
    folder: Path,
    key: str,
) -> Manifest:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    embedding = json.loads((fp32 / "embedding.json").read_text(encoding="utf-8"))
    embedding["dimension"] = int(config.get("hidden_size", 0))
    embedding["pad_id"] = int(config.get("pad_token_id") or 0)
    return Manifest(
        name=name,
        kind="embedder",
        source=src.to_dict(),
        quantization={"recipe": rec.name, **rec.to_dict(), "nodes": counts},
        context_length=int(embedding["max_length"]),
        logits="none",
        opset=graph_opset(folder / "model.onnx"),
        tools=tool_versions(),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cache_key=key,
        embedding=embedding,
    )


def _validate(
    fp32: Path, folder: Path, manifest: Manifest, threads: int | None, report: Reporter
) -> dict[str, Any]:
    from engine.memory.embedder import Embedder

    reference = replace(manifest, files={}, quantization={"recipe": "fp32"})
    reference.write(fp32)
    sentences = validation_sentences()
    report("validate", 0, 2, "reference (fp32)")
    ref = Embedder(fp32, provider="cpu", threads=threads).embed(sentences)
    report("validate", 1, 2, "candidate")
    cand = Embedder(folder, provider="cpu", threads=threads).embed(sentences)
    report("validate", 2, 2, "done")
    cosines = (ref * cand).sum(axis=1)
    return {
        "sentences": len(sentences),
        "cosine_min": float(np.min(cosines)),
        "cosine_mean": float(np.mean(cosines)),
        "text": "engine/resources/validation/embedder_sentences.txt",
    }


def _cache_key(src: Source, rec: Recipe) -> str:
    blob = json.dumps(
        {
            "source": src.sha256,
            "recipe": rec.to_dict(),
            "pipeline": EMBED_PIPELINE_VERSION,
            "export": EMBED_EXPORT_VERSION,
            "kind": "embedder",
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
