"""Preparation of the tiny model: export, quantization, validation, caching, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import Cancelled, ModelError, PreparationError, QualityError
from engine.manifest import check_folder
from engine.progress import CancelToken, Progress

pytestmark = pytest.mark.export


def test_fp32_and_int4_manifests(tiny_fp32: Path, tiny_int4: Path) -> None:
    fp32 = check_folder(tiny_fp32)
    int4 = check_folder(tiny_int4)
    assert fp32.kind == "causal-lm" and fp32.quantization["recipe"] == "fp32"
    assert fp32.validation["top1_agreement"] == 1.0
    assert int4.quantization["recipe"] == "int4"
    assert int4.quantization["nodes"]["matmul_4bit"] == 2 * 7 + 1  # 7 per layer + lm_head
    assert 0.0 < int4.validation["top1_agreement"] <= 1.0
    assert int4.validation["perplexity"] > 1.0
    assert int4.source["type"] == "hf"
    assert not int4.instruct and int4.stop_strings == ["\nUser:"]
    for name in (
        "model.onnx",
        "model.onnx.data",
        "tokenizer.json",
        "config.json",
        "chat_template.jinja",
    ):
        assert (tiny_int4 / name).is_file()
    assert int4.size_bytes < fp32.size_bytes


def _prepare(home: Path, monkeypatch: pytest.MonkeyPatch, source: Path | str, **kw):  # type: ignore[no-untyped-def]
    from engine.models.prepare import prepare

    monkeypatch.setenv("AGENT_WORKBENCH_HOME", str(home))
    return prepare(str(source), **kw)


def _copy_home(tiny_home: Path, tmp_path: Path) -> Path:
    """A private data home with the cached fp32 export, so tests skip the slow export."""
    home = tmp_path / "h"
    shutil.copytree(tiny_home / "models" / ".work", home / "models" / ".work")
    return home


def test_rerun_with_same_inputs_is_instant(
    tiny_fp32: Path, tiny_hf: Path, tiny_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages: list[str] = []
    result = _prepare(
        tiny_home,
        monkeypatch,
        tiny_hf,
        quant="fp32",
        name="tiny-fp32",
        min_agreement=0.0,
        progress=lambda p: stages.append(p.stage),
    )
    assert result.reused
    assert "quantize" not in stages and "export" not in stages


def test_refused_quantization_leaves_nothing(
    tiny_int4: Path,
    tiny_hf: Path,
    tiny_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = _copy_home(tiny_home, tmp_path)
    with pytest.raises(QualityError, match="agreement"):
        _prepare(home, monkeypatch, tiny_hf, quant="int4", name="strict", min_agreement=1.01)
    models = home / "models"
    assert not (models / "strict").exists()
    assert not [p for p in models.iterdir() if p.name.startswith(".strict")]
    forced = _prepare(
        home, monkeypatch, tiny_hf, quant="int4", name="strict", min_agreement=1.01, force=True
    )
    assert forced.manifest.validation["top1_agreement"] < 1.01


def test_cancelled_preparation_keeps_the_old_model(
    tiny_hf: Path, tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _copy_home(tiny_home, tmp_path)
    first = _prepare(home, monkeypatch, tiny_hf, quant="fp32", name="keep", min_agreement=0.0)
    before = (first.folder / "model.json").read_text()
    cancel = CancelToken()

    def stop_in_quantize(p: Progress) -> None:
        if p.stage == "quantize":
            cancel.cancel()

    with pytest.raises(Cancelled):
        _prepare(
            home,
            monkeypatch,
            tiny_hf,
            quant="int4",
            name="keep",
            min_agreement=0.0,
            force=True,
            progress=stop_in_quantize,
            cancel=cancel,
        )
    assert (first.folder / "model.json").read_text() == before
    check_folder(first.folder)
    assert not [p for p in (home / "models").iterdir() if p.name.startswith(".keep")]


def test_not_a_causal_lm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(ModelError, match="not a causal language model"):
        _prepare(tmp_path / "h", monkeypatch, folder)


def test_bad_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        _prepare(tmp_path / "h", monkeypatch, tmp_path / "nope")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelError, match="not a GGUF"):
        _prepare(tmp_path / "h", monkeypatch, junk)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=r"config\.json is missing"):
        _prepare(tmp_path / "h", monkeypatch, empty)
    with pytest.raises(PreparationError, match="unknown quantization"):
        _prepare(tmp_path / "h", monkeypatch, empty, quant="int3")


def test_rerank_recipe_on_an_untied_model(
    tiny_hf: Path, tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny model's lm_head is not tied: the rerank rows are an 8-bit copy."""
    import onnx

    home = _copy_home(tiny_home, tmp_path)
    result = _prepare(
        home, monkeypatch, tiny_hf, quant="int8-lm4-rerank", name="rr", min_agreement=0.0
    )
    graph = onnx.load(str(result.folder / "model.onnx"), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert "TopK" in ops and "ScatterElements" in ops
    assert ops.count("GatherBlockQuantized") == 2  # the embedding and the rerank rows
    assert result.manifest.validation["top1_agreement"] >= 0.9
