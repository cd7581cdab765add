"""Result sets in other formats: CSV and JSON Lines (one row per task run), and
OpenTelemetry traces as OTLP/JSON (an ExportTraceServiceRequest) that follow the GenAI
semantic conventions, so tools that read OTLP (Phoenix, Langfuse, AI Toolkit) show the
same runs.

One trace per task run: an `invoke_agent` span, and under it a `chat` span per model
generation and an `execute_tool` span per tool call; each check is a
`gen_ai.evaluation.result` event on the agent span. OTLP/JSON writes trace and span ids
as hex and 64-bit integers as decimal strings.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

from engine.eval.results import ResultSet, Variant

CSV_COLUMNS = (
    "suite",
    "variant",
    "label",
    "agent_sha256",
    "model",
    "quantization",
    "task",
    "repeat",
    "passed",
    "failed_checks",
    "answer",
    "stop_reason",
    "steps",
    "tool_calls",
    "valid_tool_calls",
    "accepted_tool_calls",
    "prompt_tokens",
    "generated_tokens",
    "ttft_ms",
    "latency_ms",
    "transcript",
)
SCOPE = "agent_workbench.eval"
SPAN_KIND_INTERNAL = 1
STATUS_OK, STATUS_ERROR = 1, 2


def rows(result: ResultSet) -> Iterator[dict[str, Any]]:
    variants = {v.key: v for v in result.variants}
    for run in result.runs:
        v = variants[run["variant"]]
        calls = run["tool_calls"]
        failed = [f"{c['check']}: {c['reason']}" for c in run["checks"] if c["passed"] is False]
        yield {
            "suite": result.suite["name"],
            "variant": v.key,
            "label": v.label,
            "agent_sha256": v.agent["sha256"],
            "model": v.model["name"],
            "quantization": v.model.get("quantization"),
            "task": run["task"],
            "repeat": run["repeat"],
            "passed": run["passed"],
            "failed_checks": " | ".join(failed),
            "answer": run["answer"],
            "stop_reason": run["stop_reason"],
            "steps": run["steps"],
            "tool_calls": len(calls),
            "valid_tool_calls": sum(1 for c in calls if c["valid"]),
            "accepted_tool_calls": sum(1 for c in calls if c["accepted"]),
            "prompt_tokens": run["prompt_tokens"],
            "generated_tokens": run["generated_tokens"],
            "ttft_ms": run["ttft_ms"],
            "latency_ms": run["latency_ms"],
            "transcript": run["transcript"],
        }


def to_csv(result: ResultSet) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(result):
        writer.writerow(row)
    return buffer.getvalue()


def to_jsonl(result: ResultSet) -> str:
    variants = {v.key: v for v in result.variants}
    lines = []
    for run in result.runs:
        v = variants[run["variant"]]
        record = {"suite": result.suite["name"], "label": v.label, "agent": v.agent, **run}
        record["model"] = {**v.model, "reported": run.get("model")}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------- OTLP/JSON
def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in values.items() if v is not None]


def _id(*parts: Any, size: int) -> str:
    digest = hashlib.sha256("\0".join(map(str, parts)).encode("utf-8")).hexdigest()
    return digest[: size * 2]


def _nanos(seconds: float) -> str:
    return str(round(seconds * 1e9))


def _spans(result: ResultSet, variant: Variant, run: dict[str, Any]) -> list[dict[str, Any]]:
    key = (result.created, result.suite["sha256"], variant.key, run["task"], run["repeat"])
    trace = _id(*key, size=16)
    root = _id(*key, "agent", size=8)
    start = float(run["started"])
    end = start + run["latency_ms"] / 1000
    model = variant.model["name"]
    common = {"gen_ai.provider.name": "onnxruntime", "gen_ai.request.model": model}
    events = [
        {
            "timeUnixNano": _nanos(end),
            "name": "gen_ai.evaluation.result",
            "attributes": _attributes(
                {
                    "gen_ai.evaluation.name": check["check"],
                    "gen_ai.evaluation.score.label": (
                        "skipped"
                        if check["passed"] is None
                        else ("pass" if check["passed"] else "fail")
                    ),
                    "gen_ai.evaluation.score.value": (
                        None if check["passed"] is None else float(bool(check["passed"]))
                    ),
                    "gen_ai.evaluation.explanation": check["reason"],
                    "agent_workbench.eval.model_judged": bool(check.get("model_judged")),
                }
            ),
        }
        for check in run["checks"]
    ]
    agent_name = variant.agent["name"]
    spans = [
        {
            "traceId": trace,
            "spanId": root,
            "name": f"invoke_agent {agent_name}",
            "kind": SPAN_KIND_INTERNAL,
            "startTimeUnixNano": _nanos(start),
            "endTimeUnixNano": _nanos(end),
            "attributes": _attributes(
                {
                    **common,
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": agent_name,
                    "gen_ai.agent.id": variant.agent["sha256"],
                    "gen_ai.conversation.id": run.get("run_id") or None,
                    "gen_ai.response.model": run.get("model") or model,
                    "gen_ai.usage.input_tokens": int(run["prompt_tokens"]),
                    "gen_ai.usage.output_tokens": int(run["generated_tokens"]),
                    "gen_ai.response.finish_reasons": [run["stop_reason"]],
                    "agent_workbench.eval.suite": result.suite["name"],
                    "agent_workbench.eval.task": run["task"],
                    "agent_workbench.eval.repeat": int(run["repeat"]),
                    "agent_workbench.eval.variant": variant.label,
                    "agent_workbench.eval.passed": bool(run["passed"]),
                    "agent_workbench.eval.steps": int(run["steps"]),
                    "agent_workbench.model.quantization": variant.model.get("quantization"),
                }
            ),
            "events": events,
            "status": (
                {"code": STATUS_OK}
                if run["stop_reason"] != "error"
                else {"code": STATUS_ERROR, "message": "; ".join(run["errors"])[:500]}
            ),
        }
    ]
    for i, span in enumerate(run.get("spans") or ()):
        child: dict[str, Any] = {
            "traceId": trace,
            "spanId": _id(*key, i, size=8),
            "parentSpanId": root,
            "kind": SPAN_KIND_INTERNAL,
            "startTimeUnixNano": _nanos(start + span["start_s"]),
            "endTimeUnixNano": _nanos(start + span["end_s"]),
        }
        if span["kind"] == "chat":
            child["name"] = f"chat {model}"
            child["attributes"] = _attributes(
                {
                    **common,
                    "gen_ai.operation.name": "chat",
                    "gen_ai.usage.input_tokens": int(span["input_tokens"]),
                    "gen_ai.usage.output_tokens": int(span["output_tokens"]),
                    "gen_ai.response.finish_reasons": [span["stop_reason"]],
                    "agent_workbench.phase": span["name"],
                    "agent_workbench.ttft_ms": float(span["ttft_ms"]),
                }
            )
            child["status"] = {"code": STATUS_OK}
        else:
            child["name"] = f"execute_tool {span['name']}"
            child["attributes"] = _attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": span["name"],
                    "gen_ai.tool.type": "function",
                    "error.type": span.get("error_kind"),
                }
            )
            child["status"] = (
                {"code": STATUS_OK}
                if span.get("ok")
                else {"code": STATUS_ERROR, "message": str(span.get("error_kind") or "error")}
            )
        spans.append(child)
    return spans


def to_otlp(result: ResultSet) -> dict[str, Any]:
    """An OTLP/JSON ExportTraceServiceRequest with every task run of the result set."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("agent-workbench")
    except PackageNotFoundError:
        own = "unknown"
    variants = {v.key: v for v in result.variants}
    spans = [s for run in result.runs for s in _spans(result, variants[run["variant"]], run)]
    resource = _attributes(
        {
            "service.name": "agent-workbench",
            "service.version": own,
            "host.cpu.model.name": result.machine.get("cpu"),
        }
    )
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource},
                "scopeSpans": [{"scope": {"name": SCOPE, "version": own}, "spans": spans}],
            }
        ]
    }
