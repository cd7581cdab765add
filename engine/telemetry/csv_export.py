"""CSV exports: one row of metrics per run, and the hardware samples (one column per channel)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from engine.telemetry.session_file import ProfileSession


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif not isinstance(value, list | tuple):
        out[prefix] = value


def metrics_rows(session: ProfileSession) -> list[dict[str, Any]]:
    rows = []
    for run in session.runs:
        row: dict[str, Any] = {
            "run": run.index + 1,
            "label": run.label,
            "kind": run.kind,
            "model": run.manifest.get("name", ""),
            "quantization": run.manifest.get("quantization", {}).get("recipe", ""),
            "provider": run.provider.get("active", ""),
        }
        metrics = {k: v for k, v in run.metrics.items() if k not in ("steps", "quality")}
        _flatten("", metrics, row)
        quality = run.metrics.get("quality", {})
        row["tool_calls"] = quality.get("tool_calls", 0)
        row["tool_calls_valid"] = quality.get("tool_calls_valid", 0)
        row["final_answer"] = quality.get("final_answer") or ""
        rows.append(row)
    return rows


def write_metrics(session: ProfileSession, out: Path) -> int:
    rows = metrics_rows(session)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def write_samples(session: ProfileSession, out: Path) -> int:
    """Long format (t_s, source, channel, unit, value): sources sample at their own times."""
    n = 0
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["t_s", "source", "channel", "unit", "value"])
        for series in session.samples:
            for t, row in zip(series.t, series.values, strict=True):
                for channel, value in zip(series.channels, row, strict=True):
                    writer.writerow(
                        [f"{t:.6f}", series.source, channel["name"], channel["unit"], value]
                    )
                    n += 1
    return n
