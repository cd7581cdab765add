"""GPU readers: parsing of recorded data, and the real "not available" paths here."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine.telemetry.gpu_amd import AmdSysfsSource
from engine.telemetry.gpu_nvidia import NvmlSource


class NVMLError(Exception):
    pass


class NVMLErrorNotSupported(NVMLError):
    pass


class RecordedNvml:
    """Answers NVML's calls with a record taken from a GPU under an inference load."""

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(self, power_supported: bool = True, devices: int = 1) -> None:
        self.power_supported = power_supported
        self.devices = devices

    def nvmlInit(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return self.devices

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"handle{index}"

    def nvmlDeviceGetName(self, handle: str) -> bytes:
        return b"NVIDIA GeForce RTX 3060"

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54.14"

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> Any:
        return SimpleNamespace(gpu=87, memory=41)

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Any:
        return SimpleNamespace(total=12_884_901_888, free=9_663_676_416, used=3_221_225_472)

    def nvmlDeviceGetTemperature(self, handle: str, sensor: int) -> int:
        return 64

    def nvmlDeviceGetPowerUsage(self, handle: str) -> int:
        if not self.power_supported:
            raise NVMLErrorNotSupported("Not Supported")
        return 142_350  # milliwatts

    def nvmlDeviceGetClockInfo(self, handle: str, clock: int) -> int:
        return {1: 1875, 2: 7501}[clock]

    def nvmlDeviceGetComputeRunningProcesses(self, handle: str) -> list[Any]:
        return [
            SimpleNamespace(pid=os.getpid(), usedGpuMemory=1_073_741_824),
            SimpleNamespace(pid=1, usedGpuMemory=524_288_000),
            SimpleNamespace(pid=os.getpid(), usedGpuMemory=None),  # MIG / no permission
        ]


def test_nvml_record_is_parsed() -> None:
    source = NvmlSource(nvml=RecordedNvml())
    assert source.available and source.device == "NVIDIA GeForce RTX 3060"
    values = dict(zip((c.name for c in source.channels), source.read(), strict=True))
    assert values["gpu_util_percent"] == 87 and values["mem_ctrl_util_percent"] == 41
    assert values["mem_used_mb"] == pytest.approx(3221.225472)
    assert values["mem_total_mb"] == pytest.approx(12884.901888)
    assert values["temperature_c"] == 64 and values["power_w"] == pytest.approx(142.35)
    assert values["sm_clock_mhz"] == 1875 and values["mem_clock_mhz"] == 7501
    assert values["process_mem_mb"] == pytest.approx(1073.741824)  # only this process


def test_nvml_gpu_is_described_in_the_machine_description() -> None:
    from engine.telemetry.machine import describe

    source = NvmlSource(nvml=RecordedNvml())
    assert source.driver == "550.54.14"
    machine = describe([source])
    assert machine["gpus"] == [
        {"source": "nvidia", "device": "NVIDIA GeForce RTX 3060", "driver": "550.54.14"}
    ]


def test_nvml_unsupported_counter_reads_nan() -> None:
    source = NvmlSource(nvml=RecordedNvml(power_supported=False))
    values = dict(zip((c.name for c in source.channels), source.read(), strict=True))
    assert math.isnan(values["power_w"]) and values["gpu_util_percent"] == 87


def test_nvml_no_device_and_no_driver() -> None:
    assert "no NVIDIA GPU" in NvmlSource(nvml=RecordedNvml(devices=0)).reason

    class NoDriver(RecordedNvml):
        def nvmlInit(self) -> None:
            raise NVMLError("NVML Shared Library Not Found")

    source = NvmlSource(nvml=NoDriver())
    assert not source.available and "Shared Library Not Found" in source.reason


def test_nvml_really_unavailable_here() -> None:
    source = NvmlSource()
    if source.available:  # pragma: no cover - only on a machine with an NVIDIA GPU
        pytest.skip(f"this machine has {source.device}")
    assert source.reason and source.channels == ()


def _amd_tree(root: Path, busy: str = "37\n") -> Path:
    device = root / "card1" / "device"
    device.mkdir(parents=True)
    (device / "gpu_busy_percent").write_text(busy)
    (device / "mem_info_vram_used").write_text("2147483648\n")
    (device / "mem_info_vram_total").write_text("8589934592\n")
    (root / "card1-HDMI-A-1").mkdir()  # connectors sit next to cards, without counters
    return root


def test_amd_sysfs_tree_is_parsed(tmp_path: Path) -> None:
    source = AmdSysfsSource(_amd_tree(tmp_path))
    assert source.available
    assert list(source.read()) == [37.0, pytest.approx(2147.483648), pytest.approx(8589.934592)]


def test_amd_unreadable_and_missing(tmp_path: Path) -> None:
    broken = AmdSysfsSource(_amd_tree(tmp_path / "a", busy="n/a"))
    assert not broken.available and "unreadable" in broken.reason
    missing = AmdSysfsSource(tmp_path / "empty")
    assert not missing.available and "no AMD GPU" in missing.reason


def test_amd_really_unavailable_here() -> None:
    source = AmdSysfsSource()
    if source.available:  # pragma: no cover - only on a machine with an amdgpu card
        pytest.skip("this machine has an AMD GPU")
    assert "no AMD GPU" in source.reason


FDINFO = """pos:\t0
flags:\t02100002
mnt_id:\t26
ino:\t1050
drm-driver:\ti915
drm-client-id:\t{client}
drm-pdev:\t0000:00:02.0
drm-total-system:\t1 MiB
drm-engine-render:\t{render} ns
drm-engine-copy:\t0 ns
drm-engine-video:\t{video} ns
drm-engine-capacity-video:\t2
drm-engine-video-enhance:\t0 ns
"""


def test_fdinfo_parsing() -> None:
    from engine.telemetry.gpu_intel import parse_fdinfo

    driver, client, busy = parse_fdinfo(FDINFO.format(client=7, render=123456789, video=5))
    assert (driver, client) == ("i915", "7")
    assert busy["render"] == 123456789 and busy["video"] == 5
    assert parse_fdinfo("pos:\t0\nflags:\t0\n") == ("", "", {})


def test_intel_busy_percent_from_two_reads(tmp_path: Path) -> None:
    import time as time_module

    from engine.telemetry.gpu_intel import IntelFdinfoSource

    fdinfo = tmp_path / "4242" / "fdinfo"
    fdinfo.mkdir(parents=True)
    (fdinfo / "0").write_text("pos:\t0\nflags:\t0\n")  # not a DRM file
    (fdinfo / "5").write_text(FDINFO.format(client=7, render=0, video=0))
    (fdinfo / "6").write_text(FDINFO.format(client=7, render=0, video=0))  # same client
    source = IntelFdinfoSource(pid=4242, proc=tmp_path)
    assert source.available
    start = time_module.monotonic()
    time_module.sleep(0.2)
    busy_ns = int(0.5 * (time_module.monotonic() - start) * 1e9)  # ~half the interval
    (fdinfo / "5").write_text(FDINFO.format(client=7, render=busy_ns, video=0))
    values = dict(zip((c.name for c in source.channels), source.read(), strict=True))
    assert 20 < values["render_busy_percent"] < 60  # one client counted once
    assert values["video_busy_percent"] == 0


def test_intel_really_unavailable_here() -> None:
    from engine.telemetry.gpu_intel import IntelFdinfoSource

    source = IntelFdinfoSource()
    if source.available:  # pragma: no cover - only with an Intel GPU client open
        pytest.skip("this process has an Intel GPU client")
    assert "no Intel GPU client" in source.reason


# Instance names as PDH returns them on a Windows 11 machine with one discrete GPU.
LUID = "luid_0x00000000_0x0000D1B2_phys_0"
ENGINES = {
    f"pid_4242_{LUID}_eng_0_engtype_3D": 31.5,
    f"pid_4242_{LUID}_eng_1_engtype_Compute": 12.0,
    f"pid_4242_{LUID}_eng_5_engtype_Copy": 3.0,  # not counted
    f"pid_77_{LUID}_eng_0_engtype_3D": 20.0,  # another process on the same engine
    f"pid_77_{LUID}_eng_4_engtype_VideoDecode": 50.0,  # not counted
}
PROCESS_MEMORY = {f"pid_4242_{LUID}": 734_003_200.0, f"pid_77_{LUID}": 104_857_600.0}
ADAPTER_MEMORY = {LUID.replace("luid", "luid", 1): 2_147_483_648.0}


def test_pdh_instance_names_are_parsed() -> None:
    from engine.telemetry.gpu_windows import parse_instance

    inst = parse_instance(f"pid_4242_{LUID}_eng_1_engtype_Compute")
    assert inst is not None and (inst.pid, inst.engine_type) == (4242, "Compute")
    assert inst.luid == "0x00000000_0x0000D1B2"
    memory = parse_instance(f"pid_4242_{LUID}")
    assert memory is not None and memory.engine_type == ""
    assert parse_instance("_Total") is None


def test_pdh_counters_are_summed_per_engine_and_process() -> None:
    from engine.telemetry.gpu_windows import summarize

    total, ours, ours_mb, adapter_mb = summarize(ENGINES, PROCESS_MEMORY, ADAPTER_MEMORY, 4242)
    assert total == pytest.approx(51.5)  # engine 0: 31.5 + 20 (3D), the busiest
    assert ours == pytest.approx(43.5)  # 3D + Compute of pid 4242
    assert ours_mb == pytest.approx(734.0032) and adapter_mb == pytest.approx(2147.483648)


class RecordedPdh:
    """win32pdh's calls, answering with the recorded counter arrays."""

    PDH_FMT_DOUBLE = 0x200

    def OpenQuery(self) -> str:
        return "query"

    def AddEnglishCounter(self, query: str, path: str) -> str:
        return path

    def CollectQueryData(self, query: str) -> None:
        pass

    def GetFormattedCounterArray(self, counter: str, fmt: int) -> dict[str, float]:
        if "Engine" in counter:
            return ENGINES
        return PROCESS_MEMORY if "Process" in counter else ADAPTER_MEMORY


def test_pdh_source_reads_through_the_win32pdh_calls() -> None:
    from engine.telemetry.gpu_windows import PdhSource

    source = PdhSource(pdh=RecordedPdh(), pid=4242)
    assert source.available
    assert list(source.read())[:2] == [pytest.approx(51.5), pytest.approx(43.5)]


def test_pdh_really_unavailable_here() -> None:
    from engine.telemetry.gpu_windows import PdhSource

    source = PdhSource()
    assert not source.available and "Windows" in source.reason
