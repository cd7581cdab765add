"""A structural check of Trace Event Format JSON (what Perfetto and chrome://tracing read).

Checks what a viewer relies on: the required fields of each phase, numeric counter
values, complete events with a duration, begin/end events that match per thread (a
stack, like the viewers use), complete events on one thread that nest or follow each
other (Perfetto's rule for slices on a track), and timestamps that never go backwards
in file order.
"""

from __future__ import annotations

import math
from typing import Any

from engine.errors import WorkbenchError

PHASES = {"B", "E", "X", "i", "I", "C", "M"}
METADATA = {"process_name", "thread_name", "process_sort_index", "thread_sort_index"}


class TraceFormatError(WorkbenchError):
    """A trace breaks the Trace Event Format."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def problems(trace: Any) -> list[str]:
    """Everything wrong with `trace` (an empty list when it is valid)."""
    events = trace.get("traceEvents") if isinstance(trace, dict) else trace
    if not isinstance(events, list):
        return ["the trace is neither a list of events nor an object with traceEvents"]
    found: list[str] = []
    stacks: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    complete: dict[tuple[Any, Any], list[float]] = {}  # open X events' ends, per thread
    last_ts = -math.inf
    for i, ev in enumerate(events):
        where = f"event {i}"
        if not isinstance(ev, dict):
            found.append(f"{where} is not an object")
            continue
        ph = ev.get("ph")
        if ph not in PHASES:
            found.append(f"{where}: unknown phase {ph!r}")
            continue
        if not _number(ev.get("pid")):
            found.append(f"{where} ({ph}): pid missing or not a number")
        if ph != "C" and not _number(ev.get("tid")):
            found.append(f"{where} ({ph}): tid missing or not a number")
        if ph != "E" and not isinstance(ev.get("name"), str):
            found.append(f"{where} ({ph}): name missing")
        if ph == "M":
            if ev.get("name") not in METADATA or not isinstance(ev.get("args"), dict):
                found.append(f"{where}: metadata needs a known name and args")
            continue
        if not _number(ev.get("ts")):
            found.append(f"{where} ({ph}): ts missing or not a number")
            continue
        ts = float(ev["ts"])
        if ts < last_ts:
            found.append(f"{where} ({ph}): ts {ts} goes back in time (after {last_ts})")
        last_ts = max(last_ts, ts)
        if ph == "X":
            if not _number(ev.get("dur")) or ev["dur"] < 0:
                found.append(f"{where} (X): dur missing or negative")
            else:
                ends = complete.setdefault((ev.get("pid"), ev.get("tid")), [])
                while ends and ends[-1] <= ts:
                    ends.pop()
                if ends and ts + ev["dur"] > ends[-1]:
                    found.append(f"{where} (X): overlaps an enclosing slice without nesting")
                ends.append(ts + ev["dur"])
        if ph in ("i", "I") and ev.get("s", "t") not in ("g", "p", "t"):
            found.append(f"{where} (i): scope must be g, p or t")
        if ph == "C":
            args = ev.get("args")
            if not isinstance(args, dict) or not args:
                found.append(f"{where} (C): counter without values")
            elif not all(_number(v) for v in args.values()):
                found.append(f"{where} (C): counter values must be finite numbers")
        if ph == "B":
            stacks.setdefault((ev.get("pid"), ev.get("tid")), []).append(ev)
        elif ph == "E":
            stack = stacks.get((ev.get("pid"), ev.get("tid")))
            if not stack:
                found.append(
                    f"{where} (E): end without a begin on pid/tid {ev.get('pid')}/{ev.get('tid')}"
                )
                continue
            begin = stack.pop()
            if "name" in ev and ev["name"] != begin.get("name"):
                found.append(f"{where} (E): ends {ev['name']!r} but {begin.get('name')!r} is open")
    for (pid, tid), stack in stacks.items():
        for begin in stack:
            found.append(f"begin {begin.get('name')!r} on pid/tid {pid}/{tid} is never ended")
    return found


def check(trace: Any) -> None:
    found = problems(trace)
    if found:
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise TraceFormatError("invalid Chrome trace: " + "; ".join(found[:5]) + more)
