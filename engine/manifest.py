"""The prepared-folder format: the manifest (`model.json`) of a prepared model folder,
what it is and how it was made, and which folder a model name means.

Stdlib only: the runtime reads manifests without the export stack installed. This is the
contract between `engine.models` (which writes prepared folders) and `engine.llm` /
`engine.memory` (which run them), so it lives below all three.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import ModelError

MANIFEST = "model.json"
MANIFEST_VERSION = 1
#: Files every prepared chat-model folder has.
REQUIRED_FILES = ("model.onnx", "tokenizer.json", "config.json", MANIFEST)


@dataclass(frozen=True)
class TensorSlice:
    """Where one initializer's bytes lie in the folder's external data file."""

    file: str
    offset: int
    shape: tuple[int, ...]
    dtype: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSlice:
        return cls(
            file=str(data["file"]),
            offset=int(data.get("offset", 0)),
            shape=tuple(int(d) for d in data["shape"]),
            dtype=str(data["dtype"]),
        )


@dataclass(frozen=True)
class LeanGraph:
    """The CPU graph without its 8-bit token table (engine.models.graph.write_lean_graph):
    the table's rows are read on demand (engine.llm.rows.RowTable)."""

    model: str  # file name of the lean graph in the folder
    data: TensorSlice  # the quantized token table
    scales: TensorSlice  # its per-block scales
    bits: int
    block_size: int
    hidden: int
    ids_output: str  # the graph output with the candidate token ids
    hidden_output: str  # the graph output with the last hidden state

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeanGraph:
        return cls(
            model=str(data["model"]),
            data=TensorSlice.from_dict(data["data"]),
            scales=TensorSlice.from_dict(data["scales"]),
            bits=int(data["bits"]),
            block_size=int(data["block_size"]),
            hidden=int(data["hidden"]),
            ids_output=str(data["ids_output"]),
            hidden_output=str(data["hidden_output"]),
        )


#: How the fusion note of a model prepared with --no-fuse begins.
NOT_FUSED_ON_REQUEST = "not fused: --no-fuse"


def family_of(config: dict[str, Any]) -> str:
    """The model family of a transformers config: its model_type (Gemma 3's text-only
    model is `gemma3`; SmolLM2 is a `llama`, SmolLM3 has its own type)."""
    model_type = str(config.get("model_type") or "unknown")
    return {"gemma3_text": "gemma3"}.get(model_type, model_type)


@dataclass(frozen=True)
class Fusion:
    """What the attention-fusion pass did (engine.models.fuse), or why it did nothing."""

    fused_layers: int = 0
    fused_gelu: int = 0
    context: int = 32768  # the longest context the fused graph supports
    removed_nodes: int = 0
    skipped: str = ""  # why nothing was fused ("" when it ran)
    version: int = 0  # of the fusion pass (engine.models.fuse.FUSION_VERSION); 0 = before 2

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fusion:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        # version 0 (a manifest from before the field) is left out: written back unchanged
        data = {k: v for k, v in asdict(self).items() if k != "version" or v}
        if self.skipped:
            return {k: v for k, v in data.items() if k in ("skipped", "version")}
        return {k: v for k, v in data.items() if k != "skipped"}

    @property
    def by_request(self) -> bool:
        """Left unfused because the person asked for it (--no-fuse)."""
        return self.skipped.startswith(NOT_FUSED_ON_REQUEST)


@dataclass(frozen=True)
class GraphInfo:
    """The graph edits made while preparing: logits, attention fusion, the lean graph."""

    logits: str = "last"
    fusion: Fusion = field(default_factory=Fusion)
    lean: LeanGraph | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphInfo:
        lean = data.get("lean")
        return cls(
            logits=str(data.get("logits", "last")),
            fusion=Fusion.from_dict(data.get("fusion") or {}),
            lean=LeanGraph.from_dict(lean) if lean else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"logits": self.logits, "fusion": self.fusion.to_dict()}
        if self.lean is not None:
            out["lean"] = asdict(self.lean)
        return out

    @property
    def fused(self) -> bool:
        return self.fusion.fused_layers > 0


@dataclass
class Manifest:
    name: str
    kind: str  # "causal-lm" | "embedder"
    source: dict[str, Any]  # {"type": "default"|"hf"|"gguf", "path": ..., "sha256": ...}
    quantization: dict[str, Any]  # {"recipe": "int4", "details": {...}}
    family: str = ""  # the model family (transformers' model_type): llama, qwen2, gemma3...
    instruct: bool = False  # base models get a plain transcript template
    chat_template: str = "chat_template.jinja"
    stop_strings: list[str] = field(default_factory=list)
    eos_token_ids: list[int] = field(default_factory=list)
    bos_token_id: int | None = None
    context_length: int = 2048
    logits: str = "last"  # "last": the graph computes logits for the last position only
    graph: GraphInfo = field(default_factory=GraphInfo)  # graph edits: fusion, lean graph
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

    def __post_init__(self) -> None:
        if not isinstance(self.graph, GraphInfo):  # as read from model.json
            self.graph = GraphInfo.from_dict(self.graph or {})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["graph"] = self.graph.to_dict()
        return data

    def summary(self, folder: Path) -> dict[str, Any]:
        """What `model list --json` and the model manager show for this prepared model."""
        family = self.family
        if not family and (folder / "config.json").is_file():  # prepared before families
            try:
                family = family_of(json.loads((folder / "config.json").read_text("utf-8")))
            except (OSError, ValueError):
                family = ""
        fusion = self.graph.fusion
        fused = self.graph.fused
        if self.kind == "embedder":
            note = "embedder: no attention fusion"
        elif fused:
            note = f"fused: {fusion.fused_layers} layers into GroupQueryAttention"
        else:
            note = fusion.skipped or "not fused (prepared before attention fusion)"
        return {
            "name": self.name,
            "folder": str(folder),
            "kind": self.kind,
            "family": family or "unknown",
            "fused": fused,
            "fusion_note": note,
            "recipe": self.quantization.get("recipe", "?"),
        }

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
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
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


def model_folder(name: str) -> Path:
    """The folder a model name means, for the CLI and the window alike.

    A path (absolute, `~/...`, or a folder that exists relative to the working folder) is
    that folder; any other name is a prepared model in the data home's `models/`.
    """
    path = Path(name).expanduser()
    if path.is_absolute() or path.is_dir():
        return path
    return paths.models_dir() / name


def home_folder(name: str) -> Path:
    """Where a model prepared under `name` goes: always inside the data home's `models/`."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or name != name.strip():
        raise ModelError(
            f"model name {name!r} is not a plain folder name: use letters, digits, '-', '_' or "
            "'.', without slashes or surrounding spaces (e.g. --name my-model-int8)"
        )
    return paths.models_dir() / name


def is_prepared(folder: Path) -> bool:
    """Does the folder look like a prepared model (it has a manifest)?"""
    return (folder / MANIFEST).is_file()


def list_models() -> list[Manifest]:
    """The prepared models in the data home (folders with a readable manifest), by name."""
    return [manifest for _, manifest in prepared_models()]


def prepared_models() -> list[tuple[Path, Manifest]]:
    """(folder, manifest) of each prepared model in the data home, by folder name; a
    broken folder is left out."""
    found = []
    for folder in sorted(paths.models_dir().iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and is_prepared(folder):
            try:
                found.append((folder, Manifest.read(folder)))
            except ModelError:  # a broken folder is left out of the list
                continue
    return found


def quantizations(model: Path) -> list[Path]:
    """`model` and the prepared folders beside it made from the same source, by name."""
    manifest = check_folder(model)
    key = manifest.source.get("sha256") or manifest.source.get("path")
    found = [model]
    for other in sorted(p for p in model.parent.iterdir() if p.is_dir() and p != model):
        try:
            m = Manifest.read(other)
        except ModelError:
            continue
        if (
            m.kind == manifest.kind
            and key
            and (m.source.get("sha256") or m.source.get("path")) == key
        ):
            found.append(other)
    return found
