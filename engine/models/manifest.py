"""The manifest of a prepared model folder (`model.json`): what it is and how it was made.

Stdlib only: the runtime reads manifests without the export stack installed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ModelError

MANIFEST = "model.json"
MANIFEST_VERSION = 1
#: Files every prepared chat-model folder has.
REQUIRED_FILES = ("model.onnx", "tokenizer.json", "config.json", MANIFEST)


@dataclass
class Manifest:
    name: str
    kind: str  # "causal-lm" | "embedder"
    source: dict[str, Any]  # {"type": "default"|"hf"|"gguf", "path": ..., "sha256": ...}
    quantization: dict[str, Any]  # {"recipe": "int4", "details": {...}}
    instruct: bool = False  # base models get a plain transcript template
    chat_template: str = "chat_template.jinja"
    stop_strings: list[str] = field(default_factory=list)
    eos_token_ids: list[int] = field(default_factory=list)
    bos_token_id: int | None = None
    context_length: int = 2048
    logits: str = "last"  # "last": the graph computes logits for the last position only
    graph: dict[str, Any] = field(default_factory=dict)  # graph edits: fusion result
    opset: int = 0
    files: dict[str, int] = field(default_factory=dict)  # relative path -> bytes
    size_bytes: int = 0
    validation: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)  # package -> version used to build
    created: str = ""
    cache_key: str = ""
    #: Embedders only: dimension, pooling, normalize, max_length, pad_id.
    embedding: dict[str, Any] = field(default_factory=dict)
    schema_version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, folder: Path) -> None:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False)
        (folder / MANIFEST).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {f for f in cls.__dataclass_fields__}
        version = data.get("schema_version", 1)
        if version > MANIFEST_VERSION:
            raise ModelError(
                f"model.json has schema_version {version}, newer than this workbench "
                f"understands ({MANIFEST_VERSION}): update Agent Workbench"
            )
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise ModelError(
                f"{folder} is not a prepared model: {MANIFEST} is missing "
                "(prepare one with: python main.py model prepare)"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(
                f"{path} is corrupt ({exc}); prepare the model again with "
                "python main.py model prepare --force"
            ) from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path} is corrupt (not a JSON object); prepare the model again")
        try:
            return cls.from_dict(data)
        except TypeError as exc:
            raise ModelError(f"{path} is missing fields ({exc}); prepare the model again") from exc


def check_folder(folder: Path, required: tuple[str, ...] = REQUIRED_FILES) -> Manifest:
    """Check a prepared folder is complete; return its manifest or raise a clear ModelError."""
    if not folder.exists():
        raise ModelError(
            f"model folder {folder} does not exist; see `python main.py model list` "
            "or prepare it with `python main.py model prepare`"
        )
    if not folder.is_dir():
        raise ModelError(f"{folder} is a file, not a prepared model folder")
    manifest = Manifest.read(folder)
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"prepared model {folder.name!r} is incomplete: missing {', '.join(missing)}; "
            "prepare it again with --force"
        )
    for rel, size in manifest.files.items():
        path = folder / rel
        if not path.is_file() or path.stat().st_size != size:
            raise ModelError(
                f"prepared model {folder.name!r} is corrupt: {rel} is missing or has the wrong "
                "size; prepare it again with --force"
            )
    return manifest
