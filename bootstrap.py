#!/usr/bin/env python3
"""Set up Agent Workbench from nothing, then run it or test it.

    python3 bootstrap.py run   [--stack auto|cpu|cuda|directml] [-- args for main.py]
    python3 bootstrap.py test  [--stack ...] [--no-lint] [-- args for pytest]
    python3 bootstrap.py setup [--stack ...]
    python3 bootstrap.py peers [--stack ...]   (also the peer engines for `bench --vs`)

Setup creates `.venv` in the project root (if missing), picks the device stack
(NVIDIA driver -> cuda, Windows -> directml, else cpu; `--stack` or the environment
variable AGENT_WORKBENCH_STACK override it), and installs torch first (the CPU wheel,
AGENT_WORKBENCH_TORCH overrides the requirement; empty skips it), then the project
itself, editable, with the extras `<stack>,export,dev`. A stamp in `.venv` remembers
what was installed: when nothing changed, pip is not run at all.

Standard library only: this file runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV_DIR = ROOT / ".venv"
STAMP_NAME = ".agent-workbench-stamp"
PYPROJECT = ROOT / "pyproject.toml"
MAIN = ROOT / "main.py"

STACKS = ("cpu", "cuda", "directml")
STACK_ENV = "AGENT_WORKBENCH_STACK"
TORCH_ENV = "AGENT_WORKBENCH_TORCH"
NVIDIA_PROC_FILE = "/proc/driver/nvidia/version"
DEFAULT_TORCH = "torch==2.13.0"
#: Extras installed next to the device stack.
COMMON_EXTRAS = ("export", "dev")
#: Bump when the install steps change in a way the stamp must notice.
STEPS_VERSION = 1

#: Distributions that install the same import package: exactly one of each family may live
#: in a venv. Which one each stack wants is read from the stack's extra in pyproject.toml.
EXCLUSIVE_FAMILIES: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml"),
    "faiss": ("faiss-cpu", "faiss-gpu"),
}
EXCLUSIVE_DISTS = tuple(name for family in EXCLUSIVE_FAMILIES.values() for name in family)

MODEL_NAME = "default"
EMBEDDER_NAME = "default-embedder"  # engine.models.embed_export.DEFAULT_EMBEDDER_NAME


class BootstrapError(Exception):
    """A step failed; the message says which and how to retry."""


def log(message: str) -> None:
    print(f"[bootstrap] {message}", file=sys.stderr, flush=True)


# --- stack ------------------------------------------------------------------------------


def _nvidia_smi_ok(nvidia_smi: str) -> bool:
    try:
        result = subprocess.run(
            [nvidia_smi, "-L"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def has_nvidia_driver(
    which: Callable[[str], str | None] | None = None,
    proc_file: str | None = None,
    smi_ok: Callable[[str], bool] | None = None,
) -> bool:
    """An NVIDIA driver is present: the Linux driver's proc file, or a working nvidia-smi."""
    if os.path.exists(proc_file or NVIDIA_PROC_FILE):
        return True
    nvidia_smi = (which or shutil.which)("nvidia-smi")
    return nvidia_smi is not None and (smi_ok or _nvidia_smi_ok)(nvidia_smi)


def detect_stack(
    platform: str | None = None, nvidia: Callable[[], bool] | None = None
) -> tuple[str, str]:
    """The stack this machine should get, and why."""
    if (nvidia or has_nvidia_driver)():
        return "cuda", "NVIDIA driver found"
    if (platform or sys.platform) == "win32":
        return "directml", "Windows without an NVIDIA driver"
    return "cpu", "no NVIDIA driver found"


def choose_stack(
    requested: str | None,
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    nvidia: Callable[[], bool] | None = None,
) -> tuple[str, str]:
    """`--stack` wins, then AGENT_WORKBENCH_STACK, then detection ("auto" means detect)."""
    env = os.environ if env is None else env
    source = "--stack"
    choice = requested
    if choice is None:
        choice = env.get(STACK_ENV, "").strip().lower() or "auto"
        source = STACK_ENV
    if choice == "auto":
        return detect_stack(platform, nvidia)
    if choice not in STACKS:
        raise BootstrapError(
            f"unknown stack {choice!r} from {source}: choose one of auto, {', '.join(STACKS)}"
        )
    return choice, f"set by {source}"


# --- the plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One pip invocation: `<python> -m pip <args>`, with `env` added to the environment."""

    name: str
    pip_args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    def argv(self, python: Path | str) -> list[str]:
        return [str(python), "-m", "pip", *self.pip_args]


def requirement_name(requirement: str) -> str:
    """`onnxruntime-gpu>=1.24; sys_platform == 'win32'` -> `onnxruntime-gpu` (normalized)."""
    name = requirement
    for separator in ";[<>=!~ @(":
        name = name.split(separator, 1)[0]
    return name.strip().lower().replace("_", "-").replace(".", "-")


def read_extras(pyproject: Path = PYPROJECT) -> dict[str, list[str]]:
    import tomllib  # here, not at the top: an old Python must reach main()'s version check

    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    extras: dict[str, list[str]] = data.get("project", {}).get("optional-dependencies", {})
    return extras


def family_of(dist: str) -> str | None:
    """`onnxruntime-gpu` -> `onnxruntime`; None for a distribution with no rivals."""
    for family, names in EXCLUSIVE_FAMILIES.items():
        if dist in names:
            return family
    return None


def exclusive_requirements(extras: Mapping[str, Sequence[str]], stack: str) -> list[str]:
    """The requirements of the stack's extra that belong to an exclusive family."""
    return [req for req in extras.get(stack, []) if requirement_name(req) in EXCLUSIVE_DISTS]


def conflicting_dists(
    extras: Mapping[str, Sequence[str]], stack: str, installed: Sequence[str]
) -> list[str]:
    """Installed variants that are not the ones the chosen stack wants."""
    wanted = {requirement_name(req) for req in exclusive_requirements(extras, stack)}
    return [name for name in EXCLUSIVE_DISTS if name in installed and name not in wanted]


def torch_requirement(env: Mapping[str, str] | None = None) -> str:
    """The torch requirement installed first; AGENT_WORKBENCH_TORCH="" skips that step."""
    env = os.environ if env is None else env
    return env.get(TORCH_ENV, DEFAULT_TORCH).strip()


def plan_steps(
    stack: str,
    extras: Mapping[str, Sequence[str]],
    torch_spec: str = DEFAULT_TORCH,
    installed: Sequence[str] = (),
) -> list[Step]:
    """The pip steps, in order, for `stack`, given the exclusive variants now installed.

    1. uninstall the variants of another stack (they share a module with ours);
    2. if any were removed, reinstall ours without dependencies: the uninstall may have
       deleted files the two variants shared;
    3. torch first, so that pip takes the pinned (local CPU) wheel before anything that
       depends on torch can pull another build;
    4. the project, editable, with `<stack>,export,dev`.
    """
    if stack not in STACKS:
        raise BootstrapError(f"unknown stack {stack!r}")
    if stack not in extras:
        raise BootstrapError(f"pyproject.toml has no [{stack}] extra")
    steps: list[Step] = []
    conflicts = conflicting_dists(extras, stack, installed)
    if conflicts:
        steps.append(
            Step(
                f"remove other stacks' packages ({', '.join(conflicts)})",
                ("uninstall", "-y", *conflicts),
            )
        )
        hit = {family_of(name) for name in conflicts}
        ours = [
            req
            for req in exclusive_requirements(extras, stack)
            if family_of(requirement_name(req)) in hit
        ]
        if ours:
            steps.append(
                Step(
                    f"repair {stack} packages", ("install", "--force-reinstall", "--no-deps", *ours)
                )
            )
    if torch_spec:
        steps.append(Step(f"install {torch_spec}", ("install", torch_spec)))
    extra_list = ",".join((stack, *COMMON_EXTRAS))
    steps.append(Step(f"install project [{extra_list}]", ("install", "-e", f".[{extra_list}]")))
    return steps


#: llama.cpp built for the native CPU on one with AMX runs its AMX backend, which crashes
#: (SIGSEGV in ggml_backend_amx_mul_mat): build it for AVX-512 without AMX instead.
#: (engine/telemetry/bench.py names the same flags in its crash report.)
LLAMACPP_NO_AMX = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON "
    "-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
)


def cpu_flag_set(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if not path.is_file():
            return set()
        cpuinfo = path.read_text(encoding="utf-8", errors="replace")
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


def llamacpp_cmake_args(flags: set[str], env: Mapping[str, str] | None = None) -> str | None:
    """CMAKE_ARGS for building llama-cpp-python here: yours if set, no AMX on AMX CPUs."""
    env = os.environ if env is None else env
    if env.get("CMAKE_ARGS"):
        return env["CMAKE_ARGS"]
    if "amx_tile" in flags:
        args = LLAMACPP_NO_AMX
        if "avx512_bf16" not in flags:
            args = args.replace("-DGGML_AVX512_BF16=ON", "-DGGML_AVX512_BF16=OFF")
        if "avx512_vnni" not in flags:
            args = args.replace("-DGGML_AVX512_VNNI=ON", "-DGGML_AVX512_VNNI=OFF")
        return args
    return None


def plan_peer_steps(
    extras: Mapping[str, Sequence[str]], flags: set[str], env: Mapping[str, str] | None = None
) -> list[Step]:
    """Install the `peers` extra, llama.cpp built from source for this CPU.

    The old build goes first and pip's wheel cache is bypassed: a cached wheel built
    natively on an AMX CPU would be reused and crash again.
    """
    if "peers" not in extras:
        raise BootstrapError("pyproject.toml has no [peers] extra")
    cmake = llamacpp_cmake_args(flags, env)
    build_env = (("CMAKE_ARGS", cmake),) if cmake else ()
    label = "without AMX" if cmake == LLAMACPP_NO_AMX or "AMX_TILE=OFF" in (cmake or "") else ""
    return [
        Step("remove the old llama.cpp build", ("uninstall", "-y", "llama-cpp-python")),
        Step(
            f"build the peer engines {label}".strip(),
            ("install", "--no-cache-dir", *extras["peers"]),
            build_env,
        ),
    ]


# --- the stamp --------------------------------------------------------------------------


def venv_python(venv_dir: Path = VENV_DIR, platform: str = sys.platform) -> Path:
    if platform == "win32":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def venv_script(name: str, venv_dir: Path = VENV_DIR, platform: str = sys.platform) -> Path:
    if platform == "win32":
        return venv_dir / "Scripts" / f"{name}.exe"
    return venv_dir / "bin" / name


def venv_python_version(venv_dir: Path = VENV_DIR) -> str:
    """The venv's Python version, read from pyvenv.cfg (no interpreter started)."""
    try:
        lines = (venv_dir / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "unknown"
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return "unknown"


def compute_stamp(
    pyproject_bytes: bytes, stack: str, python_version: str, steps: Sequence[Step]
) -> str:
    """Hash of everything that decides what gets installed."""
    digest = hashlib.sha256()
    for part in (
        f"steps-version={STEPS_VERSION}",
        f"stack={stack}",
        f"python={python_version}",
        *(" ".join(step.pip_args) for step in steps),
    ):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(pyproject_bytes)
    return digest.hexdigest()


def read_stamp(venv_dir: Path = VENV_DIR) -> dict[str, str]:
    try:
        data = json.loads((venv_dir / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_stamp(stamp: str, stack: str, venv_dir: Path = VENV_DIR) -> None:
    record = {"hash": stamp, "stack": stack, "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (venv_dir / STAMP_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def project_installed(venv_dir: Path = VENV_DIR) -> bool:
    """The project's own dist-info is in the venv (cheap: a glob, no interpreter)."""
    patterns = (
        "lib/python*/site-packages/agent_workbench-*.dist-info",
        "Lib/site-packages/agent_workbench-*.dist-info",
    )
    return any(next(venv_dir.glob(pattern), None) is not None for pattern in patterns)


# --- doing it ---------------------------------------------------------------------------


def create_venv(venv_dir: Path = VENV_DIR) -> None:
    log(f"creating {venv_dir} (Python {sys.version.split()[0]})")
    try:
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    except (OSError, subprocess.CalledProcessError) as error:
        hint = ""
        if sys.platform.startswith("linux"):
            hint = " (on Debian/Ubuntu: apt install python3-venv)"
        raise BootstrapError(
            f"could not create {venv_dir}: {error}{hint}; delete it and retry"
        ) from error


def installed_exclusive(python: Path) -> list[str]:
    """Which of the mutually exclusive distributions the venv has now."""
    script = (
        "import importlib.metadata as m, json\n"
        "names = set()\n"
        "for d in m.distributions():\n"
        "    n = (d.metadata['Name'] or '').lower().replace('_', '-').replace('.', '-')\n"
        "    names.add(n)\n"
        "print(json.dumps(sorted(names)))\n"
    )
    result = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BootstrapError(f"could not list the venv's packages:\n{result.stderr.strip()}")
    present = set(json.loads(result.stdout))
    return [name for name in EXCLUSIVE_DISTS if name in present]


def run_step(step: Step, python: Path) -> None:
    argv = step.argv(python)
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in step.env)
    log(f"{step.name}: {prefix + ' ' if prefix else ''}{format_command(argv)}")
    started = time.monotonic()
    code = subprocess.call(argv, cwd=ROOT, env={**os.environ, **dict(step.env)})
    if code != 0:
        raise BootstrapError(
            f"step '{step.name}' failed (pip exit code {code}). Retry it with:\n"
            f"    cd {ROOT} && {format_command(argv)}"
        )
    log(f"{step.name}: done in {time.monotonic() - started:.1f} s")


def format_command(argv: Sequence[str]) -> str:
    """A command line to copy into this platform's shell."""
    return subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)


def setup(requested_stack: str | None, force: bool = False) -> Path:
    """Idempotent: venv, stack, packages. Returns the venv's python."""
    started = time.monotonic()
    stack, why = choose_stack(requested_stack)
    python = venv_python()
    if not python.exists():
        create_venv()
    extras = read_extras()
    torch_spec = torch_requirement()
    base_steps = plan_steps(stack, extras, torch_spec)
    stamp = compute_stamp(PYPROJECT.read_bytes(), stack, venv_python_version(), base_steps)
    previous = read_stamp()
    if not force and previous.get("hash") == stamp and project_installed():
        log(f"stack {stack} ({why}); up to date ({time.monotonic() - started:.2f} s)")
        return python

    log(f"stack {stack} ({why}); installing")
    if previous.get("stack") and previous.get("stack") != stack:
        log(f"stack changes from {previous['stack']} to {stack}")
    (VENV_DIR / STAMP_NAME).unlink(missing_ok=True)
    steps = plan_steps(stack, extras, torch_spec, installed_exclusive(python))
    for step in steps:
        run_step(step, python)
    write_stamp(stamp, stack)
    log(f"setup done in {time.monotonic() - started:.1f} s")
    return python


def model_names(list_json: str) -> set[str]:
    """Names in `main.py model list --json` output; tolerant of its exact shape."""
    data = json.loads(list_json)
    if isinstance(data, dict) and "models" in data:
        data = data["models"]
    if isinstance(data, dict):
        return {str(name) for name in data}
    if isinstance(data, list):
        names: set[str] = set()
        for item in data:
            if isinstance(item, dict) and "name" in item:
                names.add(str(item["name"]))
            elif isinstance(item, str):
                names.add(item)
        return names
    raise ValueError("unexpected JSON shape")


def prepared_models(python: Path) -> set[str]:
    """Names `main.py model list --json` reports (empty when it cannot tell)."""
    result = subprocess.run(
        [str(python), str(MAIN), "model", "list", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return set()
    try:
        return model_names(result.stdout)
    except ValueError:
        return set()


def prepare_models(python: Path) -> None:
    """The default chat model (preparing it also prepares the default embedder), or just
    the embedder when a chat model prepared before the memory feature is already there."""
    names = prepared_models(python)
    if MODEL_NAME not in names:
        argv = [str(python), str(MAIN), "model", "prepare", "--source", "default"]
    elif EMBEDDER_NAME not in names:
        argv = [str(python), str(MAIN), "model", "prepare", "--source", "embedder-default"]
    else:
        log(f"models '{MODEL_NAME}' and '{EMBEDDER_NAME}' are prepared")
        return
    log(f"preparing the default models (a few minutes, once): {format_command(argv)}")
    code = subprocess.call(argv, cwd=ROOT)
    if code != 0:
        raise BootstrapError(
            f"preparing the default models failed (exit code {code}). Retry it with:\n"
            f"    cd {ROOT} && {format_command(argv)}"
        )


def lint(python: Path) -> list[str]:
    """Run the linters; the names of those that failed."""
    linters: list[tuple[str, list[str]]] = [
        ("ruff", [str(python), "-m", "ruff", "check", "."]),
        ("mypy", [str(python), "-m", "mypy"]),
        ("import-linter", [str(venv_script("lint-imports"))]),
    ]
    failed: list[str] = []
    for name, argv in linters:
        log(f"lint: {name}")
        code = subprocess.call(argv, cwd=ROOT)
        if code != 0:
            log(f"lint: {name} FAILED (exit code {code}): {format_command(argv)}")
            failed.append(name)
    return failed


def hand_over(argv: list[str]) -> int:
    """Become `argv` (POSIX) or run it and pass its exit code on (Windows)."""
    log(f"starting: {format_command(argv)}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(ROOT)
    if os.name == "posix":
        os.execv(argv[0], argv)
    process = subprocess.Popen(argv)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue  # the child got Ctrl+C as well; wait for it to finish


# --- command line -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bootstrap.py",
        description="Set up Agent Workbench (.venv, device stack, packages), then run or test it.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "set up, prepare the default models if needed, start the workbench"),
        ("test", "set up, run ruff, mypy and import-linter, then pytest"),
        ("setup", "set up only"),
        ("peers", "set up, then install the peer engines (llama.cpp built for this CPU)"),
    ):
        command = commands.add_parser(name, help=help_text, allow_abbrev=False)
        command.add_argument(
            "--stack",
            choices=("auto", *STACKS),
            default=None,
            help=f"device stack (default: ${STACK_ENV}, else auto-detect)",
        )
        command.add_argument(
            "--force", action="store_true", help="run the pip steps even if nothing changed"
        )
        if name == "test":
            command.add_argument("--no-lint", action="store_true", help="skip the linters")
    return parser


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split at the first `--`: bootstrap's own arguments, then those passed on."""
    args = list(argv)
    if "--" in args:
        cut = args.index("--")
        return args[:cut], args[cut + 1 :]
    return args, []


def main(argv: Sequence[str] | None = None) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file may be started by any python3
        log(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
        return 1
    own, passthrough = split_passthrough(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(own)
    if unknown and args.command in ("setup", "peers"):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    extra = [*unknown, *passthrough]
    try:
        python = setup(args.stack, force=args.force)
        if args.command == "setup":
            return 0
        if args.command == "peers":
            for step in plan_peer_steps(read_extras(), cpu_flag_set()):
                run_step(step, python)
            return 0
        if args.command == "test":
            if not args.no_lint:
                failed = lint(python)
                if failed:
                    log(f"linters failed: {', '.join(failed)} (pytest not run; --no-lint skips)")
                    return 1
            return hand_over([str(python), "-m", "pytest", *extra])
        if not MAIN.exists():
            raise BootstrapError(f"{MAIN} does not exist")
        prepare_models(python)
        return hand_over([str(python), str(MAIN), *extra])
    except BootstrapError as error:
        log(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
