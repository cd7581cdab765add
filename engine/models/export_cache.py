"""What the two optimum exports (causal LM, sentence embedder) share.

An export is a cache folder: built in a staging folder next to it, moved into place when
complete, and marked with `export.json` (source hash, export version, what the build
adds). A folder whose marker names the same source hash and version is reused as is.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import PreparationError
from engine.models.sources import Source

MARKER = "export.json"


def cached_export(
    source: Source,
    out: Path,
    version: int,
    build: Callable[[Path], dict[str, Any]],
    reusable: Callable[[dict[str, Any]], bool] | None = None,
) -> Path:
    """`out`, reused when its marker matches (and `reusable(marker)` agrees), else rebuilt:
    `build(staging)` writes the export into `staging` and returns more fields for the
    marker. A failed build leaves no folder behind (a previous export is removed first)."""
    marker = out / MARKER
    if marker.is_file():
        try:
            done = json.loads(marker.read_text())
            if (
                done["sha256"] == source.sha256
                and done.get("version") == version
                and (reusable is None or reusable(done))
            ):
                return out
        except (OSError, ValueError, KeyError):
            pass
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        extra = build(staging)
        marker_data = {
            "sha256": source.sha256,
            "source": source.to_dict(),
            "version": version,
            **extra,
        }
        (staging / MARKER).write_text(json.dumps(marker_data, indent=2))
        staging.replace(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def missing_export_extra(what: str, exc: ImportError) -> PreparationError:
    """The error for an export extra that is not installed (`exc` names the module)."""
    return PreparationError(
        f"{what} needs the export extra ({exc.name} is missing): "
        "python3 bootstrap.py setup installs it"
    )
