"""Where the tests keep models that take seconds to minutes to build, between sessions."""

from __future__ import annotations

import os
from pathlib import Path

#: Names the cache folder (CI reuses it between runs); default: .cache/test-models.
CACHE_ENV = "AGENT_WORKBENCH_TEST_CACHE"


def cache_root() -> Path:
    """The test cache folder (created if missing)."""
    default = Path(__file__).resolve().parents[2] / ".cache" / "test-models"
    path = Path(os.environ.get(CACHE_ENV, default))
    path.mkdir(parents=True, exist_ok=True)
    return path
