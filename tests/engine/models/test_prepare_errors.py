"""Failures inside prepare: a clear error naming stage, family and what to try; the export
cache and the models folder stay consistent; --no-fuse is the way around a failing fusion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import PreparationError
from tests.helpers.tiny_families import build_family_folder, cached_family_folder

pytest.importorskip("optimum.exporters.onnx")


@pytest.fixture(scope="module")
def tiny_qwen3() -> Path:
    return cached_family_folder("qwen3")


def _prepare(source: Path, **kwargs):  # type: ignore[no-untyped-def]
    from engine.models.prepare import prepare

    return prepare(str(source), min_agreement=0.0, **kwargs)


def test_a_failing_fusion_names_the_stage_and_no_fuse_gets_round_it(
    tiny_qwen3: Path, _data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.models import fuse

    def broken(*args: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(fuse, "_fuse", broken)
    with pytest.raises(PreparationError) as caught:
        _prepare(tiny_qwen3, quant="int4", name="q3")
    message = str(caught.value)
    assert "fuse stage" in message and "a qwen3 model" in message
    assert "--no-fuse" in message and "IndexError" in message
    models = _data_home / "models"
    # No prepared folder, no staging folder, no half-written export in the cache.
    assert sorted(p.name for p in models.iterdir()) == [".reports", ".work"]
    assert list((models / ".work").iterdir()) == []
    (report,) = (models / ".reports").iterdir()
    assert str(report) in message
    text = report.read_text()
    assert "stage: fuse" in text and "family: qwen3" in text and '"model_type": "qwen3"' in text

    result = _prepare(tiny_qwen3, quant="int4", name="q3", fuse=False)
    assert not result.manifest.graph.fused
    assert result.manifest.graph.fusion.skipped.startswith("not fused: --no-fuse")


def test_a_failing_quantization_keeps_the_export_cache_valid(
    tiny_qwen3: Path, _data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.models import prepare as prepare_module

    def broken(*args: object) -> None:
        raise KeyError("model.embed_tokens.weight_transposed")

    with monkeypatch.context() as patch:
        patch.setattr(prepare_module, "quantize", broken)
        with pytest.raises(PreparationError, match=r"quantize stage.*a qwen3 model"):
            _prepare(tiny_qwen3, quant="int4", name="q3")
    work = _data_home / "models" / ".work"
    (export,) = work.iterdir()
    marker = json.loads((export / "export.json").read_text())
    assert marker["fusion"]["fused_layers"] == 2
    stamp = (export / "model.onnx").stat().st_mtime_ns
    assert not (_data_home / "models" / "q3").exists()

    result = _prepare(tiny_qwen3, quant="int4", name="q3")  # reuses the export as it is
    assert (export / "model.onnx").stat().st_mtime_ns == stamp
    assert result.manifest.graph.fused and result.manifest.family == "qwen3"


def test_an_unfusable_family_is_prepared_unfused_with_the_reason(
    tmp_path: Path, _data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Phi-3 rotating 12 of its 16 head dimensions: GroupQueryAttention cannot (its cos
    cache must be a multiple of 8 wide), so the model is prepared unfused and says why, in
    `model prepare`'s output and in `model list --json`."""
    from engine.cli import main

    folder = build_family_folder(
        "phi3",
        tmp_path / "phi3",
        num_attention_heads=4,
        num_key_value_heads=2,
        partial_rotary_factor=0.75,
    )
    argv = ["model", "prepare", "--source", str(folder), "--name", "phi", "--quant", "int4"]
    assert main([*argv, "--min-agreement", "0"]) == 0
    assert "family phi3; rotary over 12 of 16 head dimensions" in capsys.readouterr().err
    assert main(["model", "list", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["models"]
    assert entry["folder"] == str(_data_home / "models" / "phi")
    assert entry["family"] == "phi3" and entry["recipe"] == "int4"
    assert entry["fused"] is False
    assert "GroupQueryAttention needs a multiple of 16" in entry["fusion_note"]
