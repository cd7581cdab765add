"""Compare two variants' runs of a suite, task by task: which tasks flipped, and the
changes of pass rate, latency, tokens and tool-call rates.

The variants may come from two result sets (a suite run before and after an edit) or be
two columns of one matrix run. A task counts as passed when all its runs passed.
"""

from __future__ import annotations

from typing import Any

from engine.eval.results import ResultSet, Variant
from engine.eval.stats import median

DELTA_KEYS = (
    "pass_rate",
    "median_latency_ms",
    "median_tokens",
    "median_ttft_ms",
    "valid_tool_call_rate",
    "accepted_tool_call_rate",
)


def _tasks(result: ResultSet, variant: Variant) -> dict[str, dict[str, Any]]:
    by_task: dict[str, list[dict[str, Any]]] = {}
    for run in result.runs_of(variant):
        by_task.setdefault(run["task"], []).append(run)
    return {
        task: {
            "passed": all(r["passed"] for r in runs),
            "runs": len(runs),
            "pass_rate": sum(r["passed"] for r in runs) / len(runs),
            "median_latency_ms": median([r["latency_ms"] for r in runs]),
            "failed_checks": sorted(
                {c["check"] for r in runs for c in r["checks"] if c["passed"] is False}
            ),
        }
        for task, runs in by_task.items()
    }


def compare(a: ResultSet, va: Variant, b: ResultSet, vb: Variant) -> dict[str, Any]:
    """{"a", "b", "deltas" (b - a), "flipped": {"fixed", "broken"}, "tasks": [...],
    "only_a", "only_b"}; `tasks` has one row per task both ran, in A's suite order."""
    ta, tb = _tasks(a, va), _tasks(b, vb)
    sa, sb = a.summary(va), b.summary(vb)
    deltas = {
        k: (round(sb[k] - sa[k], 4) if sa[k] is not None and sb[k] is not None else None)
        for k in DELTA_KEYS
    }
    order = [t for t in a.suite["tasks"] if t in ta] + sorted(set(ta) - set(a.suite["tasks"]))
    rows: list[dict[str, Any]] = []
    fixed: list[str] = []
    broken: list[str] = []
    for task in order:
        if task not in tb:
            continue
        x, y = ta[task], tb[task]
        flip = None
        if x["passed"] != y["passed"]:
            flip = "fixed" if y["passed"] else "broken"
            (fixed if y["passed"] else broken).append(task)
        latency = (
            round(y["median_latency_ms"] - x["median_latency_ms"], 3)
            if x["median_latency_ms"] is not None and y["median_latency_ms"] is not None
            else None
        )
        rows.append(
            {
                "task": task,
                "a_passed": x["passed"],
                "b_passed": y["passed"],
                "flip": flip,
                "a_pass_rate": x["pass_rate"],
                "b_pass_rate": y["pass_rate"],
                "latency_delta_ms": latency,
                "b_failed_checks": y["failed_checks"],
            }
        )
    same_suite = a.suite.get("sha256") == b.suite.get("sha256")
    return {
        "a": {"file": str(a.path), "variant": va.key, "label": va.label, "summary": sa},
        "b": {"file": str(b.path), "variant": vb.key, "label": vb.label, "summary": sb},
        "same_suite": same_suite,
        "deltas": deltas,
        "flipped": {"fixed": fixed, "broken": broken},
        "tasks": rows,
        "only_a": sorted(set(ta) - set(tb)),
        "only_b": sorted(set(tb) - set(ta)),
    }
