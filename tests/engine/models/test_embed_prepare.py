"""Embedder preparation of any HF encoder folder (a tiny random BERT) and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError, PreparationError, QualityError
from engine.progress import Progress

pytestmark = pytest.mark.export


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from tests.helpers.tiny_bert import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_any_encoder_folder_goes_through_the_pipeline(tiny_bert: Path) -> None:
    from engine.memory.embedder import Embedder
    from engine.models.embed_prepare import prepare_embedder

    stages: list[str] = []
    first = prepare_embedder(
        str(tiny_bert), quant="int8", progress=lambda p: stages.append(p.stage)
    )
    m = first.manifest
    assert m.kind == "embedder" and m.name.endswith("-int8") and not first.reused
    assert m.embedding["dimension"] == 64 and m.embedding["pooling"] == "mean"
    assert m.embedding["max_length"] == 128
    assert m.quantization["nodes"]["matmul_8bit"] == 2 * 6
    assert {"export", "quantize", "validate", "done"} <= set(stages)
    assert 0.98 <= m.validation["cosine_min"] <= 1.0
    vectors = Embedder(first.folder, provider="cpu").embed(["the lighthouse", "a fox"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    again = prepare_embedder(str(tiny_bert), quant="int8")
    assert again.reused and again.folder == first.folder


def test_quality_threshold_refuses_and_keeps_nothing(tiny_bert: Path) -> None:
    from engine import paths
    from engine.models.embed_prepare import prepare_embedder

    with pytest.raises(QualityError, match="minimum cosine"):
        prepare_embedder(str(tiny_bert), quant="int4", name="refused", min_cosine=1.01)
    assert not (paths.models_dir() / "refused").exists()


def test_a_causal_lm_folder_is_not_an_embedder(tmp_path: Path) -> None:
    from engine.models.embed_prepare import prepare_embedder

    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["Gemma3ForCausalLM"]}))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelError, match="not a sentence embedder"):
        prepare_embedder(str(tmp_path))


def test_missing_source_and_unknown_recipe(tmp_path: Path) -> None:
    from engine.models.embed_prepare import prepare_embedder

    with pytest.raises(ModelError, match="is not a folder"):
        prepare_embedder(str(tmp_path / "nowhere"))
    with pytest.raises(PreparationError, match="unknown embedder quantization"):
        prepare_embedder(quant="int8-lm4-rerank")


@pytest.mark.parametrize("kind", ["embedder", "causal-lm"])
def test_a_folder_without_a_readable_config_is_refused(tmp_path: Path, kind: str) -> None:
    from engine.models.embed_prepare import prepare_embedder
    from engine.models.prepare import prepare

    def run() -> object:
        if kind == "embedder":
            return prepare_embedder(str(tmp_path))
        return prepare(str(tmp_path))

    with pytest.raises(
        ModelError, match=r"not a Hugging Face model folder: config\.json is missing"
    ):
        run()
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"config\.json is corrupt"):
        run()


def test_progress_type(tiny_bert: Path) -> None:
    from engine.models.embed_prepare import prepare_embedder

    seen: list[Progress] = []
    prepare_embedder(str(tiny_bert), quant="fp32", progress=seen.append)
    assert seen and all(isinstance(p, Progress) for p in seen)
