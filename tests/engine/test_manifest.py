"""engine.manifest: the prepared-folder format and which folder a model name means."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.manifest import GraphInfo, Manifest, home_folder, list_models, model_folder

LEAN = {
    "model": "model.lean.onnx",
    "data": {"file": "model.onnx.data", "offset": 64, "shape": [262144, 640], "dtype": "uint8"},
    "scales": {"file": "model.onnx.data", "offset": 128, "shape": [262144, 20], "dtype": "float32"},
    "bits": 8,
    "block_size": 32,
    "hidden": 640,
    "ids_output": "topk/ids",
    "hidden_output": "hidden/last",
}


def _manifest(graph: dict[str, object]) -> Manifest:
    return Manifest.from_dict(
        {"name": "m", "kind": "causal-lm", "source": {}, "quantization": {}, "graph": graph}
    )


def test_the_graph_section_is_typed_and_written_back_unchanged() -> None:
    graph = {"logits": "last", "fusion": {"fused_layers": 18, "fused_gelu": 18,
             "context": 32768, "removed_nodes": 7}, "lean": LEAN}  # fmt: skip
    m = _manifest(graph)
    assert m.graph.fused and m.graph.lean is not None
    assert m.graph.lean.data.shape == (262144, 640) and m.graph.lean.scales.offset == 128
    assert json.loads(json.dumps(m.to_dict()))["graph"] == graph


def test_a_skipped_fusion_and_no_lean_graph() -> None:
    m = _manifest({"logits": "last", "fusion": {"skipped": "no attention fusion for gpt2"}})
    assert not m.graph.fused and m.graph.lean is None
    assert m.graph.fusion.skipped.startswith("no attention fusion")
    assert m.to_dict()["graph"] == {"logits": "last", "fusion": {"skipped": m.graph.fusion.skipped}}
    assert _manifest({}).graph == GraphInfo()


def test_a_damaged_graph_section_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(
        json.dumps(
            {
                "name": "m",
                "kind": "causal-lm",
                "source": {},
                "quantization": {},
                "graph": {"lean": {"model": "x.onnx"}},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ModelError, match="prepare the model again"):
        Manifest.read(tmp_path)


def test_a_model_name_means_the_data_home_and_a_path_means_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home_models = Path(str(model_folder("default"))).parent
    assert model_folder("default") == home_models / "default"
    assert model_folder(str(tmp_path)) == tmp_path  # absolute, existing or not
    assert model_folder(str(tmp_path / "nowhere")) == tmp_path / "nowhere"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here").mkdir()
    assert model_folder("here") == Path("here")  # a folder relative to the working folder
    assert model_folder("~/x") == Path.home() / "x"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../up", "x ", "a\\b"])
def test_a_prepared_model_name_stays_in_the_data_home(name: str) -> None:
    with pytest.raises(ModelError, match="not a plain folder name"):
        home_folder(name)


def test_list_models_skips_broken_and_hidden_folders() -> None:
    root = home_folder("good").parent
    for name, text in [("good", None), ("broken", "{not json"), (".work", None)]:
        (root / name).mkdir(parents=True)
        manifest = {"name": name, "kind": "causal-lm", "source": {}, "quantization": {}}
        (root / name / "model.json").write_text(text or json.dumps(manifest), encoding="utf-8")
    assert [m.name for m in list_models()] == ["good"]
