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


def test_gemma2_with_a_tied_lm_head_prepares_and_matches_transformers(
    tiny_gemma2_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gemma 2's tied lm_head is exported as MatMul(Transpose(embedding)); the default
    recipe used to fail on it with a KeyError. Now the lm_head is quantized from the
    embedding it is tied to, re-scored from the 8-bit table, and the fp32 export agrees
    with transformers past the sliding window."""
    import numpy as np
    import onnx
    import torch
    from transformers import AutoModelForCausalLM

    from engine.llm.session import LLMSession
    from engine.models.prepare import DEFAULT_QUANT

    home = tmp_path / "h"
    result = _prepare(home, monkeypatch, tiny_gemma2_hf, name="g2", min_agreement=0.9)
    nodes = result.manifest.quantization["nodes"]
    assert nodes == {"matmul_8bit": 14, "matmul_4bit": 1, "gather_8bit": 1}, nodes
    assert result.manifest.quantization["recipe"] == DEFAULT_QUANT
    graph = onnx.load(str(result.folder / "model.onnx"), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    # The fp32 table (and the Transpose the lm_head read it through) are gone.
    assert "model.embed_tokens.weight" not in {i for n in graph.node for i in n.input}
    assert "model.embed_tokens.weight" not in {t.name for t in graph.initializer}
    assert ops.count("GatherBlockQuantized") == 2  # the same 8-bit table, read twice
    assert result.manifest.validation["top1_agreement"] >= 0.9

    fp32 = _prepare(home, monkeypatch, tiny_gemma2_hf, quant="fp32", name="g2-fp32")
    ids = [2, *(int(t) for t in np.random.default_rng(0).integers(3, 500, 39))]
    # Eager attention: transformers' default (sdpa) drops Gemma 2's attention soft-capping.
    model = AutoModelForCausalLM.from_pretrained(
        str(tiny_gemma2_hf), dtype=torch.float32, attn_implementation="eager"
    )
    with torch.no_grad():
        expected = model.eval()(torch.tensor([ids])).logits[0].numpy()
    ours = LLMSession(fp32.folder, provider="cpu").logits_for(ids)  # one token at a time
    np.testing.assert_allclose(ours, expected, atol=1e-3)


def test_an_unexpected_failure_in_a_stage_is_a_clear_error(
    tiny_hf: Path, tiny_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.models import prepare as prepare_module

    def broken(*args: object) -> None:
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(prepare_module, "_validate", broken)
    home = _copy_home(tiny_home, tmp_path)
    with pytest.raises(PreparationError) as caught:
        _prepare(home, monkeypatch, tiny_hf, quant="int4", name="half", min_agreement=0.0)
    message = str(caught.value)
    assert "validate stage" in message and str(tiny_hf) in message
    assert "a gemma3 model" in message and "--quant" in message
    assert "RuntimeError: something inside broke" in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert sorted(p.name for p in (home / "models").iterdir()) == [".reports", ".work"]
    (report,) = (home / "models" / ".reports").iterdir()
    assert str(report) in message
    assert "something inside broke" in report.read_text() and "Traceback" in report.read_text()


def test_cli_reports_a_failing_stage_in_one_line(
    tiny_hf: Path, tiny_home: Path, tmp_path: Path
) -> None:
    """In a real process: exit status 2, one `error:` line on stderr, no traceback."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    home = _copy_home(tiny_home, tmp_path)
    driver = (
        "import runpy, sys\n"
        "import engine.models.prepare as p\n"
        "def broken(*args):\n"
        "    raise KeyError('model.embed_tokens.weight_transposed')\n"
        "p._build = broken\n"
        f"sys.argv = ['main.py', 'model', 'prepare', '--source', {str(tiny_hf)!r}]\n"
        "runpy.run_path('main.py', run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "AGENT_WORKBENCH_HOME": str(home)},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "quantize stage" in errors[0] and "KeyError" in errors[0]
    assert "report it with" in errors[0]
    assert sorted(p.name for p in (home / "models").iterdir()) == [".reports", ".work"]
