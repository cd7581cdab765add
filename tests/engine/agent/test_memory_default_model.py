"""The notekeeper template on the real default model with the real memory: a fact told in
one run is retrieved and used in a later run (nothing else in that run's prompt holds it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.agent import events as ev
from engine.agent.hooks import RunHooks
from engine.agent.launch import agent_run, open_model
from engine.agent.memory import AgentMemory
from engine.agent.templates import new_agent
from engine.memory.filters import Filter
from engine.memory.settings import MemorySettings

pytestmark = pytest.mark.slow


def test_a_fact_from_one_run_answers_a_later_run(
    default_model: Path, default_embedder: Path, tmp_path: Path
) -> None:
    agent = new_agent("notekeeper", tmp_path / "notekeeper.agent.yaml")
    model = open_model(agent.spec, name=str(default_model))
    settings = MemorySettings(embedder=str(default_embedder))
    runs: list[list[ev.RunEvent]] = []
    for task in ("Remember this: the boat is moored at pier 7.", "Where is the boat moored?"):
        with AgentMemory.open(agent.spec, settings=settings) as memory:
            hooks = memory.hooks(RunHooks(before_call=lambda request: True))
            with agent_run(agent, task, model, hooks=hooks, extra_tools=memory.tools()) as run:
                runs.append(list(run))
            assert memory.problems == []
    first, second = runs
    first_id = first[0].run_id  # type: ignore[attr-defined]
    calls = [e for e in first + second if isinstance(e, ev.ToolCall)]
    assert calls and all(c.valid for c in calls)
    assert {c.tool for c in calls} <= {"memory.save", "memory.search"}
    # before the later run's first step, its retrieval brought the earlier run's memory
    hit = next(e for e in second if isinstance(e, ev.MemoryHit))
    assert hit.step == 1 and hit.items and "pier 7" in hit.items[0].text
    assert 0 < hit.tokens_used <= agent.spec.memory.token_budget
    finished = second[-1]
    assert isinstance(finished, ev.RunFinished) and "7" in (finished.final_answer or "")
    with AgentMemory.open(agent.spec, settings=settings) as memory:
        item = memory.store.get(hit.items[0].id)
        assert item is not None and item.kind == "long"
        assert item.metadata.get("run_id") == first_id or item.metadata.get("via") == "memory.save"
        assert memory.store.items(Filter(kinds=["short"])) == []  # scratchpad: drop


def test_the_librarian_answers_from_its_ingested_notes(
    default_model: Path, default_embedder: Path, tmp_path: Path
) -> None:
    agent = new_agent("librarian", tmp_path / "librarian.agent.yaml")
    model = open_model(agent.spec, name=str(default_model))
    settings = MemorySettings(embedder=str(default_embedder))
    with AgentMemory.open(agent.spec, settings=settings) as memory:
        ingested = memory.ingest_documents(agent.folder)
        assert ingested is not None and ingested.files == 3 and ingested.chunks >= 3
        hooks = memory.hooks(RunHooks(before_call=lambda request: True))
        task = "What is the hotel called?"
        with agent_run(agent, task, model, hooks=hooks, extra_tools=memory.tools()) as run:
            events = list(run)
        again = memory.ingest_documents(agent.folder)
        assert again is not None and (again.files, again.skipped) == (0, 3)
    calls = [e for e in events if isinstance(e, ev.ToolCall)]
    results = [e for e in events if isinstance(e, ev.ToolResult)]
    assert calls and all(c.valid and c.tool == "documents.search" for c in calls)
    assert any(r.ok and "Casa Azul" in r.output for r in results)
    finished = events[-1]
    assert isinstance(finished, ev.RunFinished) and finished.metrics.invalid_steps == 0
    assert "Casa Azul" in (finished.final_answer or "")
