"""The run worker's helpers: waiting for the person, the model tee, the trust list."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from engine.agent.agentfile import parse
from engine.agent.trust import trust_items
from engine.llm.events import GenerationFinished
from engine.progress import CancelToken
from engine.tools.base import Tool, ToolCallRequest
from gui.agent_job import STOP, HookGate, Pending, TeeModel, trust_lines
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


def test_the_trust_question_names_what_would_run_here() -> None:
    agent = parse(
        "schema_version: 1\nname: R\ngoals: [g]\ntools:\n  - name: calculator\n"
        "  - name: sh\n    kind: command\n    description: d\n    parameters: {type: object}\n"
        "    command: [ls, -l]\nmcp_servers:\n  - name: notes\n    transport: stdio\n"
        "    command: [node, notes.js]\n  - name: web\n    transport: http\n    url: http://x\n"
    )
    assert trust_lines(trust_items(agent)) == (
        "command tool sh runs `ls -l`",
        "MCP server notes (stdio) runs `node notes.js`",
        "MCP server web (http) connects to http://x",  # it connects as the tool list is built
    )


def test_a_window_run_has_the_agents_memory(
    tmp_path: Any, _data_home: Any, default_embedder: Any
) -> None:
    """Like `agent run`: memory tools, per-step retrieval and what is kept after the run."""
    from engine.agent.events import MemoryHit, ToolResult
    from engine.agent.memory import AgentMemory
    from engine.agent.templates import new_agent
    from gui.agent_job import RunRequest, run_agent
    from tests.helpers.fake_model import call, final

    _data_home.mkdir(parents=True, exist_ok=True)
    (_data_home / "settings.toml").write_text(f'[memory]\nembedder = "{default_embedder}"\n')
    path = tmp_path / "notes.agent.yaml"
    new_agent("notekeeper", path)
    first = ScriptedModel(
        [
            call("memory.save", '{"text": "The spare key is under the blue flowerpot."}'),
            final("Saved."),
        ]
    )
    # The template requires a tool call before the answer (tool_choice: required).
    second = ScriptedModel(
        [call("memory.search", '{"query": "spare key"}'), final("Under the blue flowerpot.")]
    )
    runs: list[list[object]] = []
    for model, task in (
        (first, "Remember: the spare key is under the blue flowerpot."),
        (second, "Where is the spare key?"),
    ):
        seen: list[object] = []
        state = _State(seen.append)
        request = RunRequest(path, task)
        assert run_agent(state, request, HookGate(), lambda spec, m=model: m) == "final_answer"
        runs.append(seen)
    saved = [e for e in runs[0] if isinstance(e, ToolResult)]
    assert saved and saved[0].tool == "memory.save" and saved[0].ok
    hits = [e for e in runs[1] if isinstance(e, MemoryHit)]
    assert hits and "blue flowerpot" in hits[0].text
    agent = parse(path.read_text())
    with AgentMemory.open(agent.spec) as memory:
        texts = [item.text for item in memory.store.items(limit=50)]
    assert any("Where is the spare key?" in t for t in texts)  # the task/answer of run 2


class _State:
    def __init__(self, emit: Any) -> None:
        self.cancel = CancelToken()
        self.emit = emit

    def flush(self) -> None:
        pass


def test_one_job_at_a_time_on_the_windows_model() -> None:
    from engine.errors import WorkbenchError
    from gui.sessions import SessionHolder

    holder = SessionHolder()
    busy = pytest.raises(WorkbenchError, match="busy with an agent run in the Run console")
    with holder.busy("an agent run in the Run console"), busy, holder.busy("a generation"):
        pass
    with holder.busy("a generation"):  # free again afterwards
        pass
