"""ONNX Runtime's operator profile, read and placed on the session's clock.

With profiling on, ONNX Runtime writes a JSON list of complete events: one per kernel
(`cat` "Node", named `<node>_kernel_time`, with `op_name` and `provider` in its args) and
one per `session.run` ("Session" / "model_run"), `ts` in microseconds since its profiling
started. `OrtProfile.start` says when that was on the monotonic clock.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import WorkbenchError
from engine.llm.session import OrtProfile

KEPT_ARGS = ("op_name", "provider", "node_index")


def read(profile: OrtProfile, t0: float) -> list[dict[str, Any]]:
    """Kernel and run events with `t`/`dur` in seconds since `t0` (the session start)."""
    try:
        raw = json.loads(profile.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkbenchError(
            f"ONNX Runtime's profile {profile.path} is unreadable ({exc})"
        ) from exc
    offset = profile.start - t0
    out = []
    for ev in raw if isinstance(raw, list) else []:
        cat, name = ev.get("cat"), str(ev.get("name", ""))
        if ev.get("ph") != "X" or not (cat == "Node" or name == "model_run"):
            continue
        args = ev.get("args", {})
        label = args.get("op_name") or name
        if cat == "Node":
            label = f"{label} ({name.removesuffix('_kernel_time')})"
        out.append(
            {
                "name": label,
                "cat": cat,
                "t": offset + float(ev["ts"]) / 1e6,
                "dur": float(ev.get("dur", 0)) / 1e6,
                "args": {k: args[k] for k in KEPT_ARGS if k in args},
            }
        )
    return out
