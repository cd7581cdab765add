"""The hardware sampler's own CPU cost, as a share of one core.

    python scripts/bench_sampler.py [--rate 10] [--seconds 30]

A benchmark, not a test: the target is under 1% of one core at 10 Hz.
"""

from __future__ import annotations

import argparse
import json
import time

from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.sources import SystemSource


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    sampler = HardwareSampler([SystemSource()], rate_hz=args.rate)
    start = time.monotonic()
    with sampler:
        time.sleep(args.seconds)
    wall = time.monotonic() - start
    print(
        json.dumps(
            {
                "rate_hz": args.rate,
                "seconds": round(wall, 2),
                "ticks": sampler.ticks,
                "sampler_cpu_s": round(sampler.cpu_seconds, 4),
                "percent_of_one_core": round(100 * sampler.cpu_seconds / wall, 3),
                "per_tick_ms": round(1000 * sampler.cpu_seconds / max(1, sampler.ticks), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
