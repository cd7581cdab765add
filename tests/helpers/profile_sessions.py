"""A real profiling session saved in the data home's sessions folder."""

from __future__ import annotations

import time
from pathlib import Path

from engine.telemetry import session_file
from engine.telemetry.recorder import Recorder
from engine.telemetry.sampler import HardwareSampler
from engine.telemetry.sources import default_sources
from tests.helpers.generation_events import generation


def saved_session(name: str, gap: float) -> Path:
    """Record one run `name` holding a 20-token generation (`gap` s apart) and save it."""
    sampler = HardwareSampler(default_sources(), rate_hz=20.0, seconds=60)
    with Recorder(name=name, sampler=sampler) as rec, rec.run(name):
        for event in generation(time.monotonic(), 20, gap=gap):
            rec.record(event)
    return session_file.save(rec.finish())
