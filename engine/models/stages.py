"""One preparation stage, and what the person reads when it fails unexpectedly.

A known failure (a WorkbenchError) passes through as it is. Anything else inside a stage
(a bug, or a model laid out in a way the pipeline does not know) becomes one
PreparationError that names the stage, the source and its model family, says what to try
(another --quant recipe, --no-fuse) and points at a report file holding the traceback,
the model's config and the tool versions, written under `models/.reports/`.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine import paths
from engine.errors import PreparationError, WorkbenchError

_TOOLS = ("onnxruntime", "onnx", "torch", "transformers", "optimum-onnx", "gguf", "tokenizers")

#: The stages, in order (`package` and `install` write the folder and move it into place).
STAGES = ("source", "export", "fuse", "quantize", "package", "validate", "install")


@contextmanager
def stage(name: str, source: str, family: str = "", config: Path | None = None) -> Iterator[None]:
    """Run one stage; an unexpected exception becomes a PreparationError (its __cause__)."""
    try:
        yield
    except WorkbenchError:
        raise
    except Exception as exc:
        report = write_report(name, source, family, exc, config)
        raise PreparationError(failure_message(name, source, family, exc, report)) from exc


def failure_message(name: str, source: str, family: str, exc: BaseException, report: Path) -> str:
    what = f"a {family} model" if family else "this model"
    tries = {
        "fuse": "prepare it unfused with --no-fuse",
        "quantize": "try another --quant (int8, or fp32 which skips quantization)",
        "validate": "try another --quant (int8, or fp32)",
        "export": "check that transformers can load it (the export extra's versions are in "
        "the report)",
    }.get(name, "try another --quant or --no-fuse")
    return (
        f"preparing {source} ({what}) failed in the {name} stage ({type(exc).__name__}: {exc}); "
        f"the pipeline does not handle {what} laid out like this. To go on: {tries}. "
        f"To get it fixed, report it with {report}"
    )


def write_report(
    name: str, source: str, family: str, exc: BaseException, config: Path | None
) -> Path:
    """A text file with what failed, the traceback, the model's config and tool versions."""
    folder = paths.models_dir() / ".reports"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"prepare-{name}-{stamp}.txt"
    config_text = ""
    if config is not None and config.is_file():
        config_text = config.read_text(encoding="utf-8", errors="replace")
    path.write_text(
        "\n".join(
            [
                f"stage: {name}",
                f"source: {source}",
                f"family: {family or 'unknown'}",
                f"error: {type(exc).__name__}: {exc}",
                f"tools: {json.dumps(tool_versions(), sort_keys=True)}",
                "",
                "".join(traceback.format_exception(exc)),
                "config.json:",
                config_text or "(none)",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def tool_versions() -> dict[str, str]:
    """The installed versions of the tools a prepared model depends on."""
    versions = {}
    for name in _TOOLS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
