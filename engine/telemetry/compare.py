"""Two profiling sessions side by side: metric medians with ratios, and quality changes."""

from __future__ import annotations

import statistics
from typing import Any

from engine.telemetry.session_file import ProfileSession

#: (key path in RunMetrics, label, True when higher is better)
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("ttft_ms", "TTFT ms", False),
    ("ttft.p50_ms", "TTFT p50 of generations", False),
    ("prefill_tok_s", "prefill tok/s", True),
    ("decode_tok_s", "decode tok/s", True),
    ("inter_token.p50_ms", "inter-token p50 ms", False),
    ("inter_token.p90_ms", "inter-token p90 ms", False),
    ("inter_token.p99_ms", "inter-token p99 ms", False),
    ("peak_rss_mb", "peak RSS MB", False),
    ("duration_ms", "run duration ms", False),
    ("new_tokens", "new tokens", True),
)


def _get(metrics: dict[str, Any], path: str) -> float | None:
    value: Any = metrics
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def median_metric(session: ProfileSession, path: str) -> float | None:
    values = [v for r in session.runs if (v := _get(r.metrics, path)) is not None]
    return statistics.median(values) if values else None


def _context(s: ProfileSession) -> dict[str, Any]:
    return {
        "name": s.name,
        "path": str(s.path or ""),
        "created": s.created,
        "runs": len(s.runs),
        "providers": sorted({str(r.provider.get("active", "")) for r in s.runs} - {""}),
        "models": sorted({str(r.manifest.get("name", "")) for r in s.runs} - {""}),
        "quantizations": sorted(
            {str(r.manifest.get("quantization", {}).get("recipe", "")) for r in s.runs} - {""}
        ),
        "cpu": s.machine.get("cpu", ""),
    }


def _quality(a: ProfileSession, b: ProfileSession) -> dict[str, Any]:
    rows = []
    for ra, rb in zip(a.runs, b.runs, strict=False):
        qa, qb = ra.metrics["quality"], rb.metrics["quality"]
        rows.append(
            {
                "run": ra.index + 1,
                "label_a": ra.label,
                "label_b": rb.label,
                "answer_a": qa["final_answer"],
                "answer_b": qb["final_answer"],
                "same_answer": qa["final_answer"] == qb["final_answer"],
                "tool_calls_valid_a": [qa["tool_calls_valid"], qa["tool_calls"]],
                "tool_calls_valid_b": [qb["tool_calls_valid"], qb["tool_calls"]],
                "errors_a": qa["errors"],
                "errors_b": qb["errors"],
                "stop_reason_a": qa.get("stop_reason"),
                "stop_reason_b": qb.get("stop_reason"),
            }
        )

    def tools(s: ProfileSession) -> list[int]:
        q = [r.metrics["quality"] for r in s.runs]
        return [sum(x["tool_calls_valid"] for x in q), sum(x["tool_calls"] for x in q)]

    return {
        "paired_runs": len(rows),
        "same_answers": sum(r["same_answer"] for r in rows),
        "tool_calls_valid_a": tools(a),
        "tool_calls_valid_b": tools(b),
        "runs": rows,
    }


def _matrix(a: ProfileSession, b: ProfileSession) -> list[dict[str, Any]]:
    """bench matrix rows of both sessions, paired by model, quantization, provider, threads
    (or, when the providers differ, by model, quantization and threads: CPU vs CUDA)."""
    rows_a = a.extra.get("matrix", {}).get("rows", [])
    rows_b = b.extra.get("matrix", {}).get("rows", [])
    paired: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for keys in (
        ("model", "quantization", "provider", "threads", "prompt_tokens"),
        ("model", "quantization", "threads", "prompt_tokens"),
    ):
        index = {tuple(r.get(k) for k in keys): r for r in rows_b}
        paired = [
            (ra, index[pair]) for ra in rows_a if (pair := tuple(ra.get(k) for k in keys)) in index
        ]
        if paired:
            break
    out = []
    for ra, rb in paired:
        row = {k: ra.get(k) for k in ("model", "quantization", "threads", "prompt_tokens")}
        row["provider_a"], row["provider_b"] = ra["provider"], rb["provider"]
        for key in ("ttft_ms", "prefill_tok_s", "decode_tok_s"):
            va, vb = ra[key]["median"], rb[key]["median"]
            row[key] = {"a": va, "b": vb, "ratio": vb / va if va else None}
        out.append(row)
    return out


def compare(a: ProfileSession, b: ProfileSession) -> dict[str, Any]:
    rows = []
    for path, label, higher_better in METRICS:
        va, vb = median_metric(a, path), median_metric(b, path)
        ratio = vb / va if va and vb is not None else None
        better = None
        if ratio is not None and ratio != 1.0:
            better = "b" if (ratio > 1.0) == higher_better else "a"
        rows.append(
            {"metric": path, "label": label, "a": va, "b": vb, "ratio": ratio, "better": better}
        )
    return {
        "a": _context(a),
        "b": _context(b),
        "metrics": rows,
        "quality": _quality(a, b),
        "matrix": _matrix(a, b),
    }


def format_value(v: float | None) -> str:
    """A metric for a table: "-" when missing, thousands separated."""
    if v is None:
        return "-"
    return f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"


def format_table(result: dict[str, Any]) -> str:
    a, b = result["a"], result["b"]
    lines = [
        *(describe_side(tag, side) for tag, side in (("A", a), ("B", b))),
        f"{'metric (median over runs)':<28} {'A':>12} {'B':>12} {'B/A':>8}  better",
    ]
    for row in result["metrics"]:
        ratio = f"x{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        lines.append(
            f"{row['label']:<28} {format_value(row['a']):>12} "
            f"{format_value(row['b']):>12} {ratio:>8}  "
            f"{(row['better'] or '').upper()}"
        )
    q = result["quality"]
    lines.append(
        f"final answers identical in {q['same_answers']} of {q['paired_runs']} paired runs; "
        f"valid tool calls A {q['tool_calls_valid_a'][0]}/{q['tool_calls_valid_a'][1]}, "
        f"B {q['tool_calls_valid_b'][0]}/{q['tool_calls_valid_b'][1]}"
    )
    for m in result.get("matrix", []):
        parts = [
            f"{label} x{m[key]['ratio']:.2f}"
            for key, label in (("ttft_ms", "TTFT"), ("prefill_tok_s", "prefill"),
                               ("decode_tok_s", "decode"))
            if m[key]["ratio"] is not None
        ]  # fmt: skip
        lines.append(
            f"matrix {m['model']} [{m['quantization']}] t{m['threads']} p{m['prompt_tokens']} "
            f"{m['provider_a']} -> {m['provider_b']}: {', '.join(parts)}"
        )
    for row in q["runs"]:
        if not row["same_answer"]:
            lines.append(
                f"  run {row['run']}: A {clip(row['answer_a'])!r} vs B {clip(row['answer_b'])!r}"
            )
        if row.get("stop_reason_a") != row.get("stop_reason_b"):
            lines.append(
                f"  run {row['run']}: stopped A {row.get('stop_reason_a')}, "
                f"B {row.get('stop_reason_b')}"
            )
    return "\n".join(lines)


def describe_side(tag: str, side: dict[str, Any]) -> str:
    """One line naming a compared session: name, providers, quantizations, runs."""
    providers = ", ".join(side["providers"]) or "?"
    quants = ", ".join(side["quantizations"]) or "?"
    return f"{tag}: {side['name']} ({providers}; {quants}; {side['runs']} runs)"


def clip(text: str | None, n: int = 60) -> str:
    """`text` cut to `n` characters with an ellipsis."""
    text = text or ""
    return text if len(text) <= n else text[: n - 1] + "…"
