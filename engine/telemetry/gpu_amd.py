"""AMD GPU counters on Linux from sysfs (amdgpu): busy percent and VRAM use.

Reads `/sys/class/drm/card*/device/gpu_busy_percent`, `mem_info_vram_used` and
`mem_info_vram_total`. The root is a parameter so tests build a real tree in a temp folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.telemetry.channels import Channel

CHANNELS = (
    Channel("gpu_busy_percent", "%"),
    Channel("vram_used_mb", "MB"),
    Channel("vram_total_mb", "MB"),
)


class AmdSysfsSource:
    name = "amd"

    def __init__(self, root: Path | str = "/sys/class/drm") -> None:
        self.available = False
        self.channels: tuple[Channel, ...] = ()
        root = Path(root)
        cards = sorted(root.glob("card*/device/gpu_busy_percent"))
        if not cards:
            self.reason = f"no AMD GPU ({root}/card*/device/gpu_busy_percent not found)"
            return
        self.device_dir = cards[0].parent
        try:
            self._read_int("gpu_busy_percent")
        except (OSError, ValueError) as exc:
            self.reason = f"amdgpu counters unreadable: {exc}"
            return
        self.reason = ""
        self.available = True
        self.channels = CHANNELS

    def _read_int(self, name: str) -> int:
        return int((self.device_dir / name).read_text().strip())

    def read(self) -> Sequence[float]:
        return (
            float(self._read_int("gpu_busy_percent")),
            self._read_int("mem_info_vram_used") / 1e6,
            self._read_int("mem_info_vram_total") / 1e6,
        )
