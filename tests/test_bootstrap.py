"""The pure parts of bootstrap.py: stack choice, the pip plan, the stamp, argument split.

Nothing here creates a venv or runs pip.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_bootstrap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "bootstrap.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bootstrap"] = module  # dataclasses look their module up while loading
    spec.loader.exec_module(module)
    return module


bootstrap = _load_bootstrap()
EXTRAS = bootstrap.read_extras(ROOT / "pyproject.toml")
FAMILIES: dict[str, tuple[str, ...]] = bootstrap.EXCLUSIVE_FAMILIES


@pytest.fixture
def no_nvidia(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)
    monkeypatch.setattr(bootstrap, "NVIDIA_PROC_FILE", str(tmp_path / "no-such-file"))
    monkeypatch.delenv(bootstrap.STACK_ENV, raising=False)
    yield


# --- stack ------------------------------------------------------------------------------


def test_linux_without_driver_is_cpu(no_nvidia: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap.sys, "platform", "linux")
    assert bootstrap.choose_stack(None)[0] == "cpu"


def test_macos_is_cpu(no_nvidia: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap.sys, "platform", "darwin")
    assert bootstrap.choose_stack(None)[0] == "cpu"


def test_windows_without_driver_is_directml(
    no_nvidia: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap.sys, "platform", "win32")
    assert bootstrap.choose_stack(None)[0] == "directml"


def test_working_nvidia_smi_on_path_is_cuda(
    no_nvidia: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap.sys, "platform", "win32")
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(bootstrap, "_nvidia_smi_ok", lambda path: True)
    assert bootstrap.choose_stack(None)[0] == "cuda"


def test_failing_nvidia_smi_is_not_cuda(no_nvidia: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap.sys, "platform", "linux")
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(bootstrap, "_nvidia_smi_ok", lambda path: False)
    assert bootstrap.choose_stack(None)[0] == "cpu"


def test_driver_proc_file_is_cuda(
    no_nvidia: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    version = tmp_path / "version"
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54\n")
    monkeypatch.setattr(bootstrap, "NVIDIA_PROC_FILE", str(version))
    monkeypatch.setattr(bootstrap.sys, "platform", "linux")
    assert bootstrap.choose_stack(None)[0] == "cuda"


def test_environment_variable_overrides_detection(
    no_nvidia: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap.sys, "platform", "linux")
    monkeypatch.setenv(bootstrap.STACK_ENV, "DirectML")
    assert bootstrap.choose_stack(None) == ("directml", f"set by {bootstrap.STACK_ENV}")
    monkeypatch.setenv(bootstrap.STACK_ENV, "auto")
    assert bootstrap.choose_stack(None)[0] == "cpu"


def test_flag_overrides_environment_variable(
    no_nvidia: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bootstrap.STACK_ENV, "directml")
    assert bootstrap.choose_stack("cuda") == ("cuda", "set by --stack")
    assert bootstrap.choose_stack("auto")[0] == "cpu"  # explicit auto means: detect


def test_unknown_stack_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bootstrap.STACK_ENV, "rocm")
    with pytest.raises(bootstrap.BootstrapError, match="unknown stack 'rocm'"):
        bootstrap.choose_stack(None)


def test_injected_detection() -> None:
    assert bootstrap.detect_stack("linux", lambda: True)[0] == "cuda"
    assert bootstrap.detect_stack("win32", lambda: False)[0] == "directml"
    assert bootstrap.detect_stack("darwin", lambda: False)[0] == "cpu"
    assert (
        bootstrap.has_nvidia_driver(
            which=lambda name: None, proc_file="/no/such/file", smi_ok=lambda path: True
        )
        is False
    )


# --- the plan ---------------------------------------------------------------------------


def _installed_by(steps: list[object]) -> list[str]:
    """Distribution names the install steps name, directly or through the stack's extra."""
    names: list[str] = []
    for step in steps:
        args = step.pip_args  # type: ignore[attr-defined]
        if args[0] != "install":
            continue
        for arg in args[1:]:
            if arg.startswith("-"):
                continue
            if arg.startswith(".["):
                extras = arg[2:-1].split(",")
                names += [bootstrap.requirement_name(r) for e in extras for r in EXTRAS[e]]
            else:
                names.append(bootstrap.requirement_name(arg))
    return names


@pytest.mark.parametrize("stack", ["cpu", "cuda", "directml"])
@pytest.mark.parametrize(
    "installed",
    [(), ("onnxruntime", "faiss-cpu"), ("onnxruntime-gpu", "faiss-gpu"), ("onnxruntime-directml",)],
)
def test_plan_installs_exactly_one_variant_of_each_family(
    stack: str, installed: tuple[str, ...]
) -> None:
    steps = bootstrap.plan_steps(stack, EXTRAS, "torch==2.13.0", installed)
    names = set(_installed_by(steps))
    for family, variants in FAMILIES.items():
        assert len(names & set(variants)) == 1, (family, stack, names & set(variants))
    # whatever else is installed now is removed first, never what the stack wants
    removed = {
        name for step in steps if step.pip_args[0] == "uninstall" for name in step.pip_args[2:]
    }
    assert removed == set(installed) - names
    after = (set(installed) - removed) | names
    for variants in FAMILIES.values():
        assert len(after & set(variants)) == 1


def test_plan_variants_per_stack() -> None:
    def variants(stack: str) -> set[str]:
        return set(_installed_by(bootstrap.plan_steps(stack, EXTRAS))) & set(
            bootstrap.EXCLUSIVE_DISTS
        )

    assert variants("cpu") == {"onnxruntime", "faiss-cpu"}
    assert variants("cuda") == {"onnxruntime-gpu", "faiss-gpu"}
    assert variants("directml") == {"onnxruntime-directml", "faiss-cpu"}


def test_plan_order_torch_first_then_editable_project() -> None:
    steps = bootstrap.plan_steps("cpu", EXTRAS, "torch==2.13.0")
    assert [step.pip_args for step in steps] == [
        ("install", "torch==2.13.0"),
        ("install", "-e", ".[cpu,export,dev]"),
    ]
    assert steps[0].argv("py") == ["py", "-m", "pip", "install", "torch==2.13.0"]


def test_stack_switch_uninstalls_then_repairs_before_torch() -> None:
    steps = bootstrap.plan_steps("cpu", EXTRAS, "torch==2.13.0", ("onnxruntime-gpu", "faiss-cpu"))
    kinds = [step.pip_args[:2] for step in steps]
    assert kinds == [
        ("uninstall", "-y"),
        ("install", "--force-reinstall"),
        ("install", "torch==2.13.0"),
        ("install", "-e"),
    ]
    assert steps[0].pip_args[2:] == ("onnxruntime-gpu",)
    # only the family that had a rival is reinstalled
    assert [bootstrap.requirement_name(r) for r in steps[1].pip_args[3:]] == ["onnxruntime"]


def test_torch_override_and_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(bootstrap.TORCH_ENV, raising=False)
    assert bootstrap.torch_requirement() == "torch==2.13.0"
    monkeypatch.setenv(bootstrap.TORCH_ENV, "torch==2.14.1")
    assert bootstrap.torch_requirement() == "torch==2.14.1"
    monkeypatch.setenv(bootstrap.TORCH_ENV, "")
    steps = bootstrap.plan_steps("cpu", EXTRAS, bootstrap.torch_requirement())
    assert [step.pip_args[0:2] for step in steps] == [("install", "-e")]


def test_requirement_name() -> None:
    assert bootstrap.requirement_name("onnxruntime-gpu>=1.24,<1.32") == "onnxruntime-gpu"
    assert bootstrap.requirement_name("pywin32>=306; sys_platform == 'win32'") == "pywin32"
    assert bootstrap.requirement_name("Faiss_CPU") == "faiss-cpu"
    assert bootstrap.requirement_name("torch==2.13.0") == "torch"


def test_unknown_stack_in_plan() -> None:
    with pytest.raises(bootstrap.BootstrapError):
        bootstrap.plan_steps("rocm", EXTRAS)


# --- the stamp --------------------------------------------------------------------------


def _stamp(pyproject: bytes = b"[project]\n", stack: str = "cpu", python: str = "3.11.7") -> str:
    steps = bootstrap.plan_steps(stack, EXTRAS, "torch==2.13.0")
    return str(bootstrap.compute_stamp(pyproject, stack, python, steps))


def test_stamp_is_stable() -> None:
    assert _stamp() == _stamp()


def test_stamp_changes_with_pyproject_stack_python_and_steps() -> None:
    base = _stamp()
    assert _stamp(pyproject=b"[project]\n# changed\n") != base
    assert _stamp(stack="cuda") != base
    assert _stamp(python="3.12.1") != base
    other_torch = bootstrap.plan_steps("cpu", EXTRAS, "torch==2.14.1")
    assert bootstrap.compute_stamp(b"[project]\n", "cpu", "3.11.7", other_torch) != base


def test_stamp_round_trip(tmp_path: Path) -> None:
    assert bootstrap.read_stamp(tmp_path) == {}
    bootstrap.write_stamp("abc", "cpu", tmp_path)
    record = bootstrap.read_stamp(tmp_path)
    assert record["hash"] == "abc" and record["stack"] == "cpu"
    (tmp_path / bootstrap.STAMP_NAME).write_text("not json", encoding="utf-8")
    assert bootstrap.read_stamp(tmp_path) == {}


def test_venv_python_version_from_pyvenv_cfg(tmp_path: Path) -> None:
    assert bootstrap.venv_python_version(tmp_path) == "unknown"
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n", encoding="utf-8")
    assert bootstrap.venv_python_version(tmp_path) == "3.11.7"


def test_project_installed_looks_for_dist_info(tmp_path: Path) -> None:
    assert not bootstrap.project_installed(tmp_path)
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "agent_workbench-0.1.0.dist-info").mkdir(parents=True)
    assert bootstrap.project_installed(tmp_path)


def test_venv_paths_per_platform(tmp_path: Path) -> None:
    assert bootstrap.venv_python(tmp_path, "linux") == tmp_path / "bin" / "python"
    assert bootstrap.venv_python(tmp_path, "win32") == tmp_path / "Scripts" / "python.exe"
    assert bootstrap.venv_script("lint-imports", tmp_path, "win32").name == "lint-imports.exe"


# --- model list and command line ----------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        '{"models": [{"name": "default", "quant": "int4"}]}',
        '[{"name": "default"}]',
        '{"default": {"quant": "int4"}}',
        '["default"]',
    ],
)
def test_model_names_accepts_the_plausible_shapes(output: str) -> None:
    assert "default" in bootstrap.model_names(output)


def test_model_names_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        bootstrap.model_names("preparing...")
    with pytest.raises(ValueError):
        bootstrap.model_names("42")
    assert bootstrap.model_names('{"models": []}') == set()


def test_split_passthrough() -> None:
    assert bootstrap.split_passthrough(["test", "--no-lint", "--", "-k", "x", "--", "y"]) == (
        ["test", "--no-lint"],
        ["-k", "x", "--", "y"],
    )
    assert bootstrap.split_passthrough(["run"]) == (["run"], [])


def test_parser_keeps_unknown_arguments_for_the_child() -> None:
    args, unknown = bootstrap.build_parser().parse_known_args(
        ["test", "-q", "--no-lint", "--stack", "cpu"]
    )
    assert (args.command, args.stack, args.no_lint, unknown) == ("test", "cpu", True, ["-q"])
    with pytest.raises(SystemExit):
        bootstrap.build_parser().parse_known_args(["run", "--stack", "rocm"])


@pytest.mark.parametrize(
    ("present", "source"),
    [
        (set(), "default"),
        ({"default"}, "embedder-default"),
        ({"default", "default-embedder"}, None),
    ],
)
def test_run_prepares_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, present: set[str], source: str | None
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "prepared_models", lambda python: present)
    monkeypatch.setattr(bootstrap.subprocess, "call", lambda argv, cwd: calls.append(argv) or 0)
    bootstrap.prepare_models(Path("python"))
    assert [c[-1] for c in calls] == ([source] if source else [])


def test_peers_build_llamacpp_without_amx_on_amx_cpus() -> None:
    extras = {"peers": ["llama-cpp-python>=0.3.30"]}
    amx = bootstrap.cpu_flag_set("flags\t: fpu avx2 avx512f avx512_vnni avx512_bf16 amx_tile\n")
    steps = bootstrap.plan_peer_steps(extras, amx, env={})
    assert steps[0].pip_args == ("uninstall", "-y", "llama-cpp-python")
    build = steps[1]
    assert build.pip_args == ("install", "--no-cache-dir", "llama-cpp-python>=0.3.30")
    cmake = dict(build.env)["CMAKE_ARGS"]
    assert "-DGGML_NATIVE=OFF" in cmake and "-DGGML_AMX_TILE=OFF" in cmake
    assert "-DGGML_AVX512=ON" in cmake and "-DGGML_AVX512_BF16=ON" in cmake
    # No BF16 on this one: not asked for. No AMX at all: llama.cpp's own native build.
    no_bf16 = bootstrap.llamacpp_cmake_args({"avx512f", "avx512_vnni", "amx_tile"}, env={})
    assert no_bf16 is not None and "-DGGML_AVX512_BF16=OFF" in no_bf16
    plain = bootstrap.plan_peer_steps(extras, {"avx2", "avx512f"}, env={})
    assert plain[1].env == ()
    # CMAKE_ARGS the user set win.
    mine = bootstrap.plan_peer_steps(extras, amx, env={"CMAKE_ARGS": "-DGGML_BLAS=ON"})
    assert dict(mine[1].env) == {"CMAKE_ARGS": "-DGGML_BLAS=ON"}
    with pytest.raises(bootstrap.BootstrapError, match="peers"):
        bootstrap.plan_peer_steps({}, amx)
