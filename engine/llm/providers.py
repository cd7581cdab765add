"""Choosing an execution provider, and reporting what a session really runs on.

`auto` tries CUDA, then DirectML, then CPU. What was compiled into onnxruntime
(`get_available_providers`) is only a candidate list: the truth is
`session.get_providers()` after the session exists. ONNX Runtime writes its complaints
about missing CUDA libraries straight to file descriptor 2; we capture them while the
session is created and turn them into the reason shown to the person.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort
import psutil

from engine.errors import ModelError, ProviderError

#: User-facing names -> ONNX Runtime provider names.
PROVIDERS: dict[str, str] = {
    "cuda": "CUDAExecutionProvider",
    "dml": "DmlExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
ALIASES = {"directml": "dml", "gpu": "cuda"}
AUTO_ORDER = ("cuda", "dml", "cpu")
CHOICES = ("auto", *PROVIDERS)


@dataclass(frozen=True)
class ProviderReport:
    """What was asked for, what the session runs on, and why they differ."""

    requested: str
    active: str
    session_providers: tuple[str, ...]
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        text = f"running on {self.active}"
        if self.reasons:
            text += " (" + "; ".join(self.reasons) + ")"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "active": self.active,
            "session_providers": list(self.session_providers),
            "reasons": list(self.reasons),
        }


def normalize(preference: str) -> str:
    """Canonical short name for a provider preference, or a clear error."""
    name = ALIASES.get(preference.strip().lower(), preference.strip().lower())
    if name != "auto" and name not in PROVIDERS:
        raise ProviderError(
            f"unknown provider {preference!r}: choose one of {', '.join(CHOICES)} "
            "(directml is accepted for dml)"
        )
    return name


def short_name(ort_name: str) -> str:
    for short, full in PROVIDERS.items():
        if full == ort_name:
            return short
    return ort_name


def candidates(preference: str) -> tuple[list[str], list[str]]:
    """Providers to try in order (ORT names) and reasons for those skipped up front."""
    pref = normalize(preference)
    compiled = set(ort.get_available_providers())
    wanted = list(AUTO_ORDER) if pref == "auto" else list(dict.fromkeys([pref, "cpu"]))
    chosen: list[str] = []
    reasons: list[str] = []
    for short in wanted:
        full = PROVIDERS[short]
        if full in compiled:
            chosen.append(full)
        elif pref == short:
            reasons.append(
                f"{short} is not available: this onnxruntime build has no {full}"
                f" ({_install_hint(short)})"
            )
    if pref == "auto" and not any(p in compiled for p in (PROVIDERS["cuda"], PROVIDERS["dml"])):
        reasons.append("no GPU provider in this onnxruntime build")
    return chosen, reasons


def _install_hint(short: str) -> str:
    if short == "cuda":
        return "install the cuda stack: python3 bootstrap.py setup --stack cuda"
    if short == "dml":
        return "DirectML needs Windows and the directml stack"
    return "reinstall onnxruntime"


@contextlib.contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Capture what native code writes to fd 2 (ORT's CUDA loader) into a list of lines."""
    lines: list[str] = []
    try:
        fd = 2
        saved = os.dup(fd)
    except OSError:  # no fd 2 (embedded interpreters): nothing to capture
        yield lines
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield lines
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def default_threads() -> int:
    """Physical cores (hyper-threads slow memory-bound decoding down)."""
    cores = psutil.cpu_count(logical=False)
    return max(1, cores or os.cpu_count() or 1)


def session_options(threads: int | None = None) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return opts


def create_session(
    model_path: Path,
    preference: str = "auto",
    threads: int | None = None,
    options: ort.SessionOptions | None = None,
) -> tuple[ort.InferenceSession, ProviderReport]:
    """Create an InferenceSession on the best allowed provider and report the truth."""
    pref = normalize(preference)
    providers, reasons = candidates(pref)
    opts = options or session_options(threads)
    if not model_path.is_file():
        raise ModelError(f"{model_path} is missing; prepare the model again")
    with captured_stderr() as noise:
        try:
            session = ort.InferenceSession(str(model_path), sess_options=opts, providers=providers)
        except Exception as exc:
            raise ModelError(
                f"ONNX Runtime cannot load {model_path} ({str(exc).strip()[:400]}); the file is "
                "corrupt or incomplete: prepare the model again with --force"
            ) from exc
    actual = tuple(session.get_providers())
    active = short_name(actual[0]) if actual else "cpu"
    wanted_first = short_name(providers[0]) if providers else "cpu"
    if active != wanted_first or (pref != "auto" and active != pref):
        detail = _summarize_noise(noise)
        reasons.append(
            f"{wanted_first if active != wanted_first else pref} could not start"
            + (f": {detail}" if detail else "")
        )
    report = ProviderReport(pref, active, actual, tuple(dict.fromkeys(reasons)))
    return session, report


def probe_device(preference: str = "auto") -> str:
    """The provider a session with this preference will really run on ("cuda", "dml" or
    "cpu"), found by starting one on a one-node graph (a GPU provider compiled into
    onnxruntime may still fail to start: no device, missing libraries). Without a GPU
    provider in this build the answer is "cpu" at once."""
    providers, _ = candidates(preference)
    if not any(p != PROVIDERS["cpu"] for p in providers):
        return "cpu"
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "probe.onnx"
        path.write_bytes(model.SerializeToString())
        _, report = create_session(path, preference, threads=1)
    return report.active


def _summarize_noise(lines: list[str]) -> str:
    """The most telling line of ORT's native complaints (missing libraries first)."""
    for key in ("cannot open shared object", ".so", ".dll", "CUDA", "cudnn", "DirectML", "Dml"):
        for line in lines:
            if key.lower() in line.lower():
                return line[-300:]
    return lines[-1][-300:] if lines else ""
