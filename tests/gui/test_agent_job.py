"""The run worker's helpers: waiting for the person, the model tee, the trust list."""

from __future__ import annotations

import threading
import time
from typing import Any

from engine.agent.agentfile import parse
from engine.llm.events import GenerationFinished
from engine.progress import CancelToken
from engine.tools.base import Tool, ToolCallRequest
from gui.agent_job import STOP, HookGate, Pending, TeeModel, risky_commands
from tests.helpers.fake_model import ScriptedModel


def test_pending_waits_for_the_answer_or_the_cancel() -> None:
    cancel = CancelToken()
    pending = Pending("approve", None, STOP)
    threading.Timer(0.1, pending.answer, args=(True,)).start()
    assert pending.wait(cancel) is True
    pending.answer(False)  # a second answer changes nothing
    assert pending.value is True
    late = Pending("plan", ("a",), ())
    threading.Timer(0.1, cancel.cancel).start()
    start = time.monotonic()
    assert late.wait(cancel) == () and time.monotonic() - start < 2


def test_stop_in_the_approval_cancels_the_run(qtbot: Any) -> None:
    gate = HookGate()
    asked: list[Pending] = []
    gate.asked.connect(asked.append)
    gate.asked.connect(lambda p: p.answer(STOP))
    cancel = CancelToken()
    tool = Tool("python", "runs code", {"type": "object"}, function=lambda: None, approval="ask")
    verdict = gate.before_call(cancel)(ToolCallRequest(tool, {"code": "1"}))
    assert isinstance(verdict, str) and cancel.cancelled
    assert asked[0].payload.arguments == {"code": "1"}


def test_tee_model_hands_on_every_generation_event() -> None:
    seen: list[object] = []
    model = TeeModel(ScriptedModel(["a b c"]), seen.append)
    events = list(model.generate("p", grammar=None, max_new_tokens=8, cancel=None))
    assert seen == events and isinstance(events[-1], GenerationFinished)
    assert model.name == "fake" and model.count_tokens("x y") == 2


def test_risky_commands_name_what_would_run() -> None:
    agent = parse(
        "schema_version: 1\nname: R\ngoals: [g]\ntools:\n  - name: calculator\n"
        "  - name: sh\n    kind: command\n    description: d\n    parameters: {type: object}\n"
        "    command: [ls, -l]\nmcp_servers:\n  - name: notes\n    transport: stdio\n"
        "    command: [node, notes.js]\n  - name: web\n    transport: http\n    url: http://x\n"
    )
    assert risky_commands(agent.spec) == ("tool sh: ls -l", "MCP server notes: node notes.js")
