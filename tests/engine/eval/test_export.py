"""Exports of a result set: CSV, JSON Lines, and OTLP/JSON checked against the
OpenTelemetry protobuf definition (opentelemetry-proto)."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from engine.eval import export, results
from engine.eval.runner import EvalOptions, SuiteRun
from engine.eval.suitefile import load
from engine.paths import resource
from tests.helpers.eval_model import by_task
from tests.helpers.fake_model import call, final

SUITE = """\
schema_version: 1
name: two sums
tasks:
  - id: power
    input: What is 2 to the power of 20?
    expect: [{number: 1048576}, {tool_used: calculator}, {judge: the answer is polite}]
  - id: seven
    input: What is 3 plus 4?
    expect: [{number: 7}]
"""


@pytest.fixture
def result(tmp_path: Path) -> results.ResultSet:
    path = tmp_path / "two.suite.yaml"
    path.write_text(SUITE, encoding="utf-8")
    model = by_task(
        {
            "power of 20": [call("calculator", '{"expression": "2**20"}'), final("1,048,576")],
            "3 plus 4": [final("It is 8.")],
        }
    )
    agent = str(resource("agents", "calculator.agent.yaml"))
    run = SuiteRun(load(path), EvalOptions(agents=(agent,)), open_model=lambda v, s: model)
    list(run)
    return results.load(run.result.path or "")


def test_csv_has_one_row_per_task_run_with_the_failed_reasons(result: results.ResultSet) -> None:
    rows = list(csv.DictReader(io.StringIO(export.to_csv(result))))
    assert [(r["task"], r["passed"]) for r in rows] == [("power", "True"), ("seven", "False")]
    assert rows[1]["failed_checks"] == "number 7: the answer's final number is 8, not 7"
    assert rows[0]["accepted_tool_calls"] == "1" and float(rows[0]["latency_ms"]) > 0


def test_jsonl_has_one_object_per_task_run(result: results.ResultSet) -> None:
    lines = [json.loads(line) for line in export.to_jsonl(result).splitlines()]
    assert [line["task"] for line in lines] == ["power", "seven"]
    assert lines[0]["agent"]["sha256"] == result.variants[0].agent["sha256"]
    assert lines[0]["checks"][2]["passed"] is None and lines[0]["checks"][2]["model_judged"]


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in ("traceId", "spanId", "parentSpanId")
            else _hex_ids_to_base64(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def test_otlp_export_is_a_valid_export_trace_service_request(result: results.ResultSet) -> None:
    pytest.importorskip("opentelemetry.proto")
    from google.protobuf.json_format import Parse
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    doc = export.to_otlp(result)
    message = Parse(json.dumps(_hex_ids_to_base64(doc)), ExportTraceServiceRequest())
    spans = message.resource_spans[0].scope_spans[0].spans
    agents = [s for s in spans if s.name.startswith("invoke_agent")]
    assert len(agents) == 2 and all(len(s.trace_id) == 16 and len(s.span_id) == 8 for s in spans)
    power = agents[0]
    attrs = {a.key: a.value for a in power.attributes}
    assert attrs["gen_ai.operation.name"].string_value == "invoke_agent"
    assert attrs["gen_ai.agent.name"].string_value == "Calculator helper"
    assert attrs["gen_ai.usage.output_tokens"].int_value > 0
    assert attrs["agent_workbench.eval.passed"].bool_value is True
    children = [s for s in spans if s.trace_id == power.trace_id and s != power]
    assert {s.name for s in children} == {"chat fake", "execute_tool calculator"} or {
        s.name.split(" ")[0] for s in children
    } == {"chat", "execute_tool"}
    assert all(s.parent_span_id == power.span_id for s in children)
    assert all(power.start_time_unix_nano <= s.start_time_unix_nano for s in children)
    assert all(s.end_time_unix_nano <= power.end_time_unix_nano + 10**6 for s in children)
    verdicts = [
        {a.key: a.value for a in e.attributes}["gen_ai.evaluation.score.label"].string_value
        for e in power.events
    ]
    assert verdicts == ["pass", "pass", "skipped"]
    assert spans[0].kind == 1 and power.status.code == 1


def test_a_bad_otlp_shape_is_caught_by_the_check(result: results.ResultSet) -> None:
    """The check above can fail: a misspelt field is refused by the proto definition."""
    pytest.importorskip("opentelemetry.proto")
    from google.protobuf.json_format import Parse, ParseError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    doc = _hex_ids_to_base64(export.to_otlp(result))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTime"] = "1"
    with pytest.raises(ParseError):
        Parse(json.dumps(doc), ExportTraceServiceRequest())
