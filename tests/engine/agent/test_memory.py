"""The agent's memory in the run loop: a scripted model, a real store, the real embedder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine.agent import events as ev
from engine.agent.memory import AgentMemory, MemoryUnavailableError, store_name, without_memory
from engine.agent.run import AgentRun
from engine.agent.spec import AgentSpec, MemorySpec, ToolSpec
from engine.memory.embedder import Embedder
from engine.memory.filters import Filter
from engine.memory.settings import MemorySettings
from engine.tools.base import ToolRegistry
from engine.tools.catalog import build_registry
from tests.helpers.agent_spec import make_spec
from tests.helpers.fake_model import ScriptedModel, call, final

FACTS = [
    "The boat is moored at pier 7 in the north harbour.",
    "Alice prefers her coffee without sugar.",
    "The garden shed key hangs behind the kitchen door.",
    "Sums of two numbers are computed with the add tool.",
]


@pytest.fixture(scope="module")
def embedder(default_embedder: Path) -> Embedder:
    return Embedder(default_embedder, provider="cpu")


def memory_spec(**memory: Any) -> AgentSpec:
    return replace(make_spec(), memory=replace(MemorySpec(enabled=True), **memory))


@pytest.fixture
def opener(tmp_path: Path, embedder: Embedder, default_embedder: Path) -> Iterator[Any]:
    opened: list[AgentMemory] = []

    def open_memory(spec: AgentSpec) -> AgentMemory:
        settings = MemorySettings(embedder=str(default_embedder))
        memory = AgentMemory.open(
            spec, path=tmp_path / "store", settings=settings, embedder=embedder
        )
        opened.append(memory)
        return memory

    yield open_memory
    for memory in opened:
        memory.close()


def run_with(
    memory: AgentMemory, model: ScriptedModel, registry: ToolRegistry, workspace: Path, task: str
) -> list[Any]:
    run = AgentRun(
        memory.spec,
        model,
        registry,
        task,
        workspace=workspace,
        hooks=memory.hooks(),
        transcript=False,
    )
    return list(run)


def of(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def test_every_step_retrieves_and_the_prompt_prefix_stays_stable(
    opener: Any, registry: ToolRegistry, workspace: Path
) -> None:
    memory = opener(memory_spec(top_k=2, min_relevance=-1.0))
    memory.store.add(FACTS, kind="long")
    memory.store.add(["Pinned: always answer in one sentence."], kind="long", pinned=True)
    model = ScriptedModel(
        [call("add", '{"a": 2, "b": 3}', "I add."), call("add", '{"a": 5, "b": 1}'), final("6")]
    )
    events = run_with(memory, model, registry, workspace, "Where is the boat moored?")
    hits = of(events, ev.MemoryHit)
    assert [h.step for h in hits] == [1, 2, 3]  # one retrieval before each step
    assert hits[0].query == "Where is the boat moored?"
    assert hits[1].query.startswith("Where is the boat moored?\n") and "5" in hits[1].query
    first = hits[0].items
    assert len(first) == 2 and first[0].text == FACTS[0] and first[0].kind == "long"
    for item in first:  # why it was used: the parts of the score
        assert item.score == pytest.approx(item.relevance + 0.1 * item.recency + item.pinned_bonus)
        assert item.id is not None and item.tokens > 0
    assert any(m.pinned_bonus > 0 for h in hits for m in h.items)  # pinning counts
    for prompt, hit in zip(model.prompts, hits, strict=True):
        assert f"Relevant memory:\n- {hit.items[0].text}" in prompt
    # The memory note opens the last message, for one generation only: everything before
    # it is exactly the start of the next step's prompt (the engine's KV cache survives).
    for before, after in zip(model.prompts, model.prompts[1:], strict=False):
        prefix = before[: before.index("Relevant memory:")]
        assert after.startswith(prefix)
    assert "Relevant memory" not in memory.spec.name and events[-1].final_answer == "6"


def test_unrelated_memories_stay_out_below_min_relevance(
    opener: Any, registry: ToolRegistry, workspace: Path
) -> None:
    memory = opener(memory_spec(top_k=3))  # min_relevance 0.5 by default
    memory.store.add(FACTS, kind="long")
    model = ScriptedModel([final("pier 7")])
    events = run_with(memory, model, registry, workspace, "Where is the boat moored?")
    (hit,) = of(events, ev.MemoryHit)
    assert [m.text for m in hit.items] == [FACTS[0]] and hit.items[0].relevance >= 0.5
    assert hit.text == FACTS[0] and hit.score == hit.items[0].score and hit.source == "long"
    model = ScriptedModel([final("?")])
    events = run_with(memory, model, registry, workspace, "What is 345 * 12?")
    assert of(events, ev.MemoryHit) == []  # nothing related: no event, no note
    assert "Relevant memory" not in model.prompts[0]


def test_the_memory_section_keeps_its_token_budget(
    opener: Any, registry: ToolRegistry, workspace: Path
) -> None:
    long_fact = "The harbour master said " + "the boat needs a new sail and fresh paint " * 6
    memory = opener(memory_spec(top_k=5, token_budget=30, min_relevance=-1.0))
    memory.store.add([long_fact, *FACTS], kind="long")
    model = ScriptedModel([call("add", '{"a": 1, "b": 1}'), final("2")])
    events = run_with(memory, model, registry, workspace, "What does the boat at the pier need?")
    hits = of(events, ev.MemoryHit)
    assert len(hits) == 2
    for hit, prompt in zip(hits, model.prompts, strict=True):
        start = prompt.index("Relevant memory:")
        section = prompt[start : prompt.index("\n\n", start)]
        assert 0 < hit.tokens_used <= 30
        assert model.count_tokens(section) == hit.tokens_used  # the fake counts words
        assert long_fact not in section  # the most relevant item is too long: skipped
        assert all(m.text != long_fact for m in hit.items) and hit.items


@pytest.mark.parametrize("mode", ["drop", "summarize", "keep"])
def test_after_the_run_history_and_tool_results_are_long_and_the_scratchpad_per_setting(
    opener: Any, registry: ToolRegistry, workspace: Path, mode: str
) -> None:
    memory = opener(memory_spec(scratchpad=mode))
    during: list[int] = []

    def second_step(prompt: str) -> str:
        during.append(len(memory.scratchpad(memory.run_id)))
        return final("5")

    model = ScriptedModel([call("add", '{"a": 2, "b": 3}', "I add."), second_step])
    events = run_with(memory, model, registry, workspace, "What is 2 + 3?")
    run_id = events[0].run_id
    assert during == [2]  # thought/action and observation, kept as `short` during the run
    store = memory.store
    longs = store.items(Filter(kinds=["long"], metadata={"run_id": run_id}))
    by_type = {item.metadata["type"]: item for item in longs}
    task = by_type["task"]
    assert task.text == "Task: What is 2 + 3?\nAnswer: 5"
    assert task.metadata["agent"] == "Tester" and task.metadata["run_id"] == run_id
    assert by_type["tool_result"].text == 'add {"a": 2, "b": 3} -> 5'
    shorts = memory.scratchpad(run_id)
    if mode == "keep":
        assert [s.text for s in shorts] == [
            'Thought: I add.\nAction: add {"a": 2, "b": 3}',
            "Observation (add): 5",
        ]
        assert "scratchpad_summary" not in by_type
    else:
        assert shorts == []
    if mode == "summarize":
        summary = by_type["scratchpad_summary"].text
        assert summary.startswith("Steps taken for the task: What is 2 + 3?")
        assert "Action: add" in summary and "Observation (add): 5" in summary
    else:
        assert "scratchpad_summary" not in by_type
    assert memory.problems == []


def test_a_failed_tool_is_not_remembered_and_remember_limits_what_is_stored(
    opener: Any, registry: ToolRegistry, workspace: Path
) -> None:
    memory = opener(memory_spec(remember=("reflections",)))
    model = ScriptedModel([call("boom", '{"text": "x"}'), final("no")])
    run_with(memory, model, registry, workspace, "Break something.")
    assert memory.store.items(Filter(kinds=["long"])) == []
    assert memory.kinds == ["reflection"]


def test_a_reflect_lesson_is_stored_as_reflection_and_found_later(
    opener: Any, registry: ToolRegistry, workspace: Path
) -> None:
    memory = opener(memory_spec())
    memory.spec = replace(memory.spec, planning=replace(memory.spec.planning, strategy="reflect"))
    model = ScriptedModel(
        [
            final("6"),
            " Critique: 2 + 3 is not 6\nLesson: compute sums with the add tool\nVerdict: revise\n",
            call("add", '{"a": 2, "b": 3}'),
            final("5"),
        ]
    )
    events = run_with(memory, model, registry, workspace, "What is 2 + 3?")
    (lesson,) = memory.store.items(Filter(kinds=["reflection"]))
    assert lesson.text == "compute sums with the add tool"
    assert lesson.metadata["run_id"] == events[0].run_id
    assert lesson.metadata["task"] == "What is 2 + 3?"
    # the next run sees it before its first step
    model = ScriptedModel([final("7")])
    events = run_with(memory, model, registry, workspace, "What is 3 + 4? Use a sum.")
    kinds = {m.kind for m in of(events, ev.MemoryHit)[0].items}
    assert "reflection" in kinds
    assert "- compute sums with the add tool" in model.prompts[0]


def test_memory_tools_save_and_search_in_the_store(opener: Any, workspace: Path) -> None:
    spec = replace(
        memory_spec(),
        tools=(ToolSpec("memory.save"), ToolSpec("memory.search"), ToolSpec("calculator")),
    )
    memory = opener(spec)
    memory.store.add(["Chapter 3 of the manual explains the sail."], kind="document")
    tools = memory.tools()
    assert [t.name for t in tools] == ["memory.search", "memory.save"]  # only those listed
    model = ScriptedModel(
        [
            call("memory.save", '{"text": "The gate code is 4711."}'),
            call("memory.search", '{"query": "gate code"}'),
            final("4711"),
        ]
    )
    entries = [t.to_entry() for t in spec.tools]
    with build_registry(entries, workspace=workspace, extra=tools) as registry:
        events = run_with(memory, model, registry, workspace, "Keep the gate code 4711.")
    saved, found = of(events, ev.ToolResult)
    assert saved.ok and '"saved": true' in saved.output and '"kind": "long"' in saved.output
    assert found.ok and '"text": "The gate code is 4711."' in found.output
    (item,) = memory.store.items(Filter(metadata={"via": "memory.save"}))
    assert item.kind == "long" and item.metadata["agent"] == "Tester"
    documents = next(t for t in memory_tools_all(memory) if t.name == "documents.search")
    result = documents.function(query="sail manual")
    assert result["hits"][0]["kind"] == "document" and "sail" in result["hits"][0]["text"]
    empty = memory_tools_all(memory)[0]
    with pytest.raises(Exception, match="non-empty query"):
        empty.function(query="  ")


def memory_tools_all(memory: AgentMemory) -> list[Any]:
    from engine.tools.memory_tools import memory_tools

    return memory_tools(memory.store, memory.spec.name)


def test_a_missing_embedder_is_a_clear_error_before_anything_opens(tmp_path: Path) -> None:
    settings = MemorySettings(embedder=str(tmp_path / "no-embedder"))
    with pytest.raises(MemoryUnavailableError) as caught:
        AgentMemory.open(memory_spec(), path=tmp_path / "store", settings=settings)
    message = str(caught.value)
    assert "python main.py model prepare --source embedder-default" in message
    assert "--no-memory" in message and "'Tester'" in message
    assert not (tmp_path / "store").exists()


def test_store_names_and_no_memory() -> None:
    assert store_name("Notes assistant") == "notes-assistant"
    assert store_name("  ") == "agent" and store_name("a/b..c") == "a-b..c"
    spec = replace(memory_spec(), tools=(ToolSpec("memory.search"), ToolSpec("calculator")))
    off = without_memory(spec)
    assert not off.memory.enabled and [t.name for t in off.tools] == ["calculator"]


def test_plan_execute_retrieves_for_the_plan_and_each_subtask_and_the_transcript_lists_it(
    opener: Any, registry: ToolRegistry, workspace: Path, tmp_path: Path
) -> None:
    from engine.agent.transcript import read_transcript

    memory = opener(memory_spec(min_relevance=-1.0))
    memory.store.add(FACTS, kind="long")
    spec = replace(
        memory.spec, planning=replace(memory.spec.planning, strategy="plan_execute", max_steps=8)
    )
    model = ScriptedModel(
        [
            " Plan:\n1. find the pier\n2. report the harbour\n\n",
            final("pier 7", "Result"),
            final("north harbour", "Result"),
            final("pier 7, north harbour"),
        ]
    )
    run = AgentRun(
        spec,
        model,
        registry,
        "Where is the boat?",
        workspace=workspace,
        hooks=memory.hooks(),
        transcript=tmp_path / "runs",
    )
    events = list(run)
    hits = of(events, ev.MemoryHit)
    assert [h.step for h in hits] == [1, 2, 3, 4]  # plan, two subtasks, synthesis
    assert hits[0].query == "Where is the boat?"
    assert hits[1].query.endswith("Do step 1 of the plan: find the pier")
    assert hits[2].query.endswith("Do step 2 of the plan: report the harbour")
    _, rows = read_transcript(events[0].transcript)
    logged = [r for r in rows if r["type"] == "MemoryHit"]
    assert len(logged) == 4 and logged[0]["items"][0]["text"] == hits[0].items[0].text
    assert {"relevance", "recency", "pinned_bonus", "score", "id", "kind"} <= set(
        logged[0]["items"][0]
    )


def test_a_store_error_in_the_hooks_never_breaks_the_run(
    opener: Any, registry: ToolRegistry, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.errors import StoreFullError

    memory = opener(memory_spec())

    def full(*args: Any, **kwargs: Any) -> list[int]:
        raise StoreFullError("the disk is full; everything saved before is intact")

    monkeypatch.setattr(memory.store, "add", full)
    model = ScriptedModel([call("add", '{"a": 2, "b": 3}'), final("5")])
    events = run_with(memory, model, registry, workspace, "What is 2 + 3?")
    assert events[-1].stop_reason == "final_answer" and events[-1].final_answer == "5"
    assert memory.problems and all("disk is full" in p for p in memory.problems)


def test_the_notekeeper_template_needs_its_memory_for_its_catalogue(
    opener: Any, tmp_path: Path
) -> None:
    from engine.agent.templates import new_agent
    from engine.tools.errors import ToolConfigError

    agent = new_agent("notekeeper", tmp_path / "nk.agent.yaml")
    assert agent.spec.memory.enabled and agent.spec.memory.scratchpad == "drop"
    entries = [t.to_entry() for t in agent.spec.tools]
    with pytest.raises(ToolConfigError, match="comes with the agent's memory"):
        build_registry(entries, workspace=tmp_path)
    memory = opener(agent.spec)
    with build_registry(entries, workspace=tmp_path, extra=memory.tools()) as registry:
        assert [t.name for t in registry.callable_tools()] == ["memory.save", "memory.search"]


def test_scratchpads_of_runs_that_never_finished_are_dropped_at_open(
    opener: Any, tmp_path: Path
) -> None:
    import time

    spec = memory_spec()  # max_seconds 300
    memory = opener(spec)
    old, recent = time.time() - 3600, time.time() - 60
    meta = {"agent": "Tester", "run_id": "crashed", "type": "action"}
    memory.store.add(["Action: add {}"], kind="short", metadata=meta, created=[old])
    memory.store.add(["Action: nap {}"], kind="short", metadata=meta, created=[recent])
    memory.store.add(["other agent"], kind="short", metadata={"agent": "x"}, created=[old])
    memory.close()
    memory = opener(spec)  # the same store, opened again
    left = sorted(i.text for i in memory.store.items(Filter(kinds=["short"])))
    assert left == ["Action: nap {}", "other agent"]  # a run may still be going; not ours
    keep = opener(replace(spec, memory=replace(spec.memory, scratchpad="keep")))
    assert len(keep.store.items(Filter(kinds=["short"]))) == 2


def test_documents_of_the_agent_file_are_ingested_and_searchable(
    opener: Any, tmp_path: Path
) -> None:
    notes = tmp_path / "agent" / "notes"
    notes.mkdir(parents=True)
    (notes / "trip.md").write_text("# Trip\n\nThe hotel is Casa Azul, near the Alfama.\n")
    spec = replace(memory_spec(documents=("notes",)), tools=(ToolSpec("documents.search"),))
    memory = opener(spec)
    first = memory.ingest_documents(tmp_path / "agent")
    assert first is not None and (first.files, first.skipped) == (1, 0)
    second = memory.ingest_documents(tmp_path / "agent")
    assert second is not None and (second.files, second.skipped) == (0, 1)
    (tool,) = memory.tools()
    hit = tool.function(query="where do we sleep in Lisbon?")["hits"][0]
    assert "Casa Azul" in hit["text"] and hit["source"].endswith("trip.md")
    missing = opener(memory_spec(documents=("nowhere",)))
    with pytest.raises(MemoryUnavailableError, match=r"documents: .*nowhere does not"):
        missing.ingest_documents(tmp_path / "agent")
    assert opener(memory_spec()).ingest_documents(tmp_path) is None


def test_a_broken_store_is_a_clear_error_that_says_how_to_run_without_memory(
    tmp_path: Path, embedder: Embedder, default_embedder: Path
) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "memory.sqlite3").write_bytes(b"this is not a database" * 100)
    settings = MemorySettings(embedder=str(default_embedder))
    with pytest.raises(MemoryUnavailableError) as caught:
        AgentMemory.open(memory_spec(), path=folder, settings=settings, embedder=embedder)
    message = str(caught.value)
    assert "its store cannot be opened" in message and "--no-memory" in message
    assert "model prepare" not in message  # the embedder is fine: no misleading fix
    assert (folder / "memory.sqlite3").read_bytes() == b"this is not a database" * 100
