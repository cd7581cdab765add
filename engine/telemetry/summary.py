"""A profiling session summarised for `profile show`: as one JSON object, or as text."""

from __future__ import annotations

from typing import Any

from engine.telemetry.session_file import ProfileSession


def hardware_summary(session: ProfileSession) -> list[dict[str, Any]]:
    """Mean and max of every counter channel over the session."""
    rows = []
    for series in session.samples:
        for j, channel in enumerate(series.channels):
            values = [v for row in series.values if (v := row[j]) is not None]
            if values:
                rows.append(
                    {
                        "source": series.source,
                        "channel": channel["name"],
                        "unit": channel["unit"],
                        "samples": len(values),
                        "mean": sum(values) / len(values),
                        "max": max(values),
                    }
                )
    return rows


def _runs(s: ProfileSession) -> list[dict[str, Any]]:
    return [
        {
            "run": r.index + 1,
            "label": r.label,
            "kind": r.kind,
            "provider": r.provider.get("active"),
            "model": r.manifest.get("name"),
            "metrics": r.metrics,
            "spans": len(r.spans),
            "events": len(r.events),
        }
        for r in s.runs
    ]


def summarize(s: ProfileSession) -> dict[str, Any]:
    return {
        "name": s.name,
        "path": str(s.path),
        "created": s.created,
        "duration_s": s.duration_s,
        "machine": s.machine,
        "sampler": s.sampler,
        "runs": _runs(s),
        "hardware": hardware_summary(s),
        "ort_events": len(s.ort_profile),
        "extra": s.extra,
    }


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _agent_lines(mt: dict[str, Any]) -> list[str]:
    """An agent run's steps and generations, one line each."""
    q = mt["quality"]
    lines = [
        f"  stopped: {q.get('stop_reason')}; answer {q['final_answer']!r}; "
        f"valid tool calls {q['tool_calls_valid']}/{q['tool_calls']}"
    ]
    for st in mt["steps"]:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in st.get("parts_ms", {}).items())
        tools = f" ({', '.join(st['tools'])})" if st.get("tools") else ""
        phase = f" [{st['phase']}]" if st.get("phase") else ""
        lines.append(
            f"  step {st['step']}{phase}: {st['ms']:.1f} ms, {st['tokens']} tok; {parts}{tools}"
        )
    for g in mt.get("per_generation", []):
        it = g["inter_token"]
        lines.append(
            f"  generation (step {g['step']}, {g['phase'] or '-'}): {g['prompt_tokens']} prompt "
            f"tok ({g['cached_tokens']} cached), {g['new_tokens']} new, TTFT {g['ttft_ms']:.1f} "
            f"ms, prefill {g['prefill_tok_s']:.1f} tok/s, decode {g['decode_tok_s']:.1f} tok/s, "
            f"inter-token p50/p90/p99 {it['p50_ms']:.1f}/{it['p90_ms']:.1f}/{it['p99_ms']:.1f} ms"
        )
    return lines


def format_summary(s: ProfileSession) -> str:
    m = s.machine
    out = [
        f"{s.name}  ({s.created}, {s.duration_s:.2f} s)  {s.path}",
        f"machine: {m.get('cpu')}, {m.get('cores_logical')} threads, {m.get('ram_gb')} GB, "
        f"{m.get('os')}, Python {m.get('python')}, GPUs: "
        f"{', '.join(g['device'] for g in m.get('gpus', [])) or 'none detected'}",
        f"libraries: {', '.join(f'{k} {v}' for k, v in m.get('libraries', {}).items())}",
    ]
    if m.get("load_average"):
        out.append(
            "load average at the end (1/5/15 min): "
            + "/".join(f"{x:.2f}" for x in m["load_average"])
        )
    for r in _runs(s):
        mt: dict[str, Any] = r["metrics"]
        it: dict[str, float] = mt["inter_token"]
        out.append(
            f"run {r['run']}: {r['label']} [{r['model']} on {r['provider']}] "
            f"{mt['duration_ms']:.0f} ms, TTFT {_f(mt['ttft_ms'])} ms, prefill "
            f"{_f(mt['prefill_tok_s'])} tok/s, decode {_f(mt['decode_tok_s'])} tok/s, "
            f"inter-token p50/p90/p99 {it['p50_ms']:.1f}/{it['p90_ms']:.1f}/{it['p99_ms']:.1f} ms, "
            f"{mt['new_tokens']} tok, {len(mt['steps'])} step(s)"
        )
        if r["kind"] == "agent":
            out.extend(_agent_lines(mt))
    out.append(
        f"hardware: {s.sampler.get('ticks', 0)} samples at {s.sampler.get('rate_hz')} Hz "
        f"(sampler CPU {s.sampler.get('cpu_seconds', 0):.3f} s)"
    )
    for h in hardware_summary(s):
        if h["channel"].startswith("cpu") and h["channel"][3:4].isdigit():
            continue  # per-core rows are in --json
        out.append(
            f"  {h['source']:<8} {h['channel']:<22} mean {h['mean']:10.1f}  "
            f"max {h['max']:10.1f} {h['unit']}"
        )
    if s.ort_profile:
        out.append(f"onnxruntime operator events: {len(s.ort_profile)}")
    if "matrix" in s.extra:
        from engine.telemetry.matrix import format_table

        out.append(format_table(s.extra["matrix"]))
    return "\n".join(out)
