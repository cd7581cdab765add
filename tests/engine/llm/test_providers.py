"""Provider choice and the truth read back from the session."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort
import pytest

from engine.errors import ProviderError
from engine.llm import providers
from engine.llm.providers import candidates, captured_stderr, create_session, normalize


def test_normalize_and_unknown() -> None:
    assert normalize("AUTO") == "auto"
    assert normalize("directml") == "dml"
    with pytest.raises(ProviderError, match="unknown provider 'tpu'"):
        normalize("tpu")


def test_auto_falls_back_to_cpu_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    chosen, reasons = candidates("auto")
    assert chosen == ["CPUExecutionProvider"]
    assert any("no GPU provider" in r for r in reasons)
    chosen, reasons = candidates("cuda")
    assert chosen == ["CPUExecutionProvider"]
    assert any("cuda is not available" in r for r in reasons)


def test_cuda_first_when_compiled_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        ort,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "DmlExecutionProvider", "CPUExecutionProvider"],
    )
    chosen, _ = candidates("auto")
    assert chosen == ["CUDAExecutionProvider", "DmlExecutionProvider", "CPUExecutionProvider"]


def test_native_stderr_is_captured() -> None:
    with captured_stderr() as lines:
        os.write(2, b"libcudnn.so.9: cannot open shared object file\n")
    assert lines == ["libcudnn.so.9: cannot open shared object file"]


def test_session_reports_what_it_really_runs_on(tiny_int4: Path) -> None:
    session, report = create_session(tiny_int4 / "model.onnx", "cpu")
    assert report.active == "cpu"
    assert report.session_providers == tuple(session.get_providers())
    assert report.to_dict()["requested"] == "cpu"


# Faking "CUDA is compiled in" on a CPU-only onnxruntime: ORT warns that it has no CUDA
# provider before falling back, which is the fallback this test is about.
@pytest.mark.filterwarnings(
    "ignore:Specified provider 'CUDAExecutionProvider' is not in:UserWarning"
)
def test_failed_gpu_start_becomes_a_reason(
    tiny_int4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider compiled in but unable to start: the session falls back, we say why."""
    monkeypatch.setattr(
        providers,
        "candidates",
        lambda pref: (["CUDAExecutionProvider", "CPUExecutionProvider"], []),
    )
    monkeypatch.setattr(providers, "_summarize_noise", lambda lines: "libcudart.so.12 missing")
    _, report = create_session(tiny_int4 / "model.onnx", "cuda")
    assert report.active == "cpu"
    assert any("libcudart" in r for r in report.reasons)
    assert "running on cpu" in report.describe()
