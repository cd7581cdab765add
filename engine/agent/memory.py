"""An agent's memory during a run: its store, its tools and the hooks that feed it.

    memory = AgentMemory.open(spec)                  # <data home>/memory/<store_name>/
    with agent_run(agent, task, model, hooks=memory.hooks(hooks),
                   extra_tools=memory.tools()) as run:
        ...
    memory.close()

Before each step `retrieve` looks up long-term items (kinds from `memory.remember`);
during the run `observe` keeps the scratchpad (thoughts, actions, observations) as kind
`short`; `lesson` stores reflect lessons as `reflection`; `after_run` stores the task and
answer and the useful tool results as `long` (metadata `run_id`, `agent`) and drops,
summarises or keeps the scratchpad per `memory.scratchpad`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.agent import events as ev
from engine.agent.hooks import Lesson, MemoryItem, RunHooks, RunRecord
from engine.agent.names import folder_name
from engine.agent.spec import AgentSpec
from engine.errors import StoreError, WorkbenchError
from engine.tools.base import Tool

if TYPE_CHECKING:
    from engine.memory.ingest import IngestResult

#: `memory.remember` entry -> the kinds retrieval reads for it.
KINDS = {"history": "long", "tool_results": "long", "reflections": "reflection"}
KINDS["documents"] = "document"
MEMORY_TOOLS = ("memory.search", "memory.save", "documents.search")
#: Longest tool result / scratchpad line kept (characters).
RESULT_CHARS = 1000
SUMMARY_CHARS = 1500


#: A memory to store: text, its `type` in the metadata, more metadata.
Entry = tuple[str, str, dict[str, Any]]


class MemoryUnavailableError(WorkbenchError):
    """The agent file turns memory on but the memory cannot be opened."""


def store_name(agent: str) -> str:
    """A store folder name from an agent's name: `Notes keeper` -> `notes-keeper`
    (`engine.agent.names.folder_name`, the one rule)."""
    return folder_name(agent)


class AgentMemory:
    def __init__(self, store: Any, spec: AgentSpec) -> None:
        self.store, self.spec = store, spec
        self.run_id = ""
        self._pending: Entry | None = None  # a tool call's scratchpad line, until its result
        self.problems: list[str] = []  # store errors met by the hooks (shown, not raised)
        self.kinds = sorted({KINDS[r] for r in spec.memory.remember if r in KINDS})

    @classmethod
    def open(
        cls,
        spec: AgentSpec,
        *,
        path: Path | None = None,
        settings: Any = None,
        embedder: Any = None,
        on_notice: Any = None,
    ) -> AgentMemory:
        """The store of the agent (by `store_name(spec.name)`, or at `path`). Checks the
        embedder first, so a missing one stops the run before anything starts."""
        from engine.memory.settings import load_settings
        from engine.memory.store import MemoryStore, embedder_folder

        off = "or run without memory (`agent run --no-memory`, or `enabled: false` under memory)"
        try:
            settings = settings or load_settings()
            if embedder is None:
                embedder_folder(settings)  # StoreError: "not prepared; run: model prepare ..."
        except StoreError as exc:
            raise MemoryUnavailableError(
                f"the agent {spec.name!r} has memory on, but {exc}; {off}"
            ) from exc
        try:
            name = None if path else store_name(spec.name)
            store = MemoryStore.open(
                agent=name, path=path, embedder=embedder, settings=settings, on_notice=on_notice
            )
        except StoreError as exc:
            raise MemoryUnavailableError(
                f"the agent {spec.name!r} has memory on, but its store cannot be opened: "
                f"{exc}; {off}"
            ) from exc
        memory = cls(store, spec)
        memory.drop_stale_scratchpads()
        return memory

    def drop_stale_scratchpads(self) -> int:
        """Delete `short` items of runs that never finished (a crash, a kill): those older
        than twice the wall-clock budget, so no run still going loses its scratchpad."""
        import time

        from engine.memory.filters import Filter

        if self.spec.memory.scratchpad == "keep":
            return 0
        until = time.time() - 2 * self.spec.planning.max_seconds
        where = Filter(kinds=["short"], until=until, metadata={"agent": self.spec.name})
        try:
            return int(self.store.delete_where(where))
        except StoreError as exc:
            self.problems.append(str(exc))
            return 0

    def ingest_documents(
        self, base: Path, progress: Any = None, cancel: Any = None
    ) -> IngestResult | None:
        """Ingest `memory.documents` (relative to `base`, the agent file's folder) as
        `document` items; unchanged files are skipped, changed ones replaced."""
        from engine.agent.places import is_within, resolve
        from engine.memory.ingest import collect, ingest

        if not self.spec.memory.documents:
            return None
        paths = [resolve(base, p) for p in self.spec.memory.documents]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise MemoryUnavailableError(
                f"memory.documents: {', '.join(missing)} does not exist; fix the path "
                "(relative to the agent file) or remove it"
            )
        home = base.resolve()
        for root in (p for p in paths if p.is_dir()):
            # what the file lists is what was trusted: a symlink in a listed folder may not
            # bring in a file from outside it and outside the agent's folder
            found = collect([root])
            away = [str(f) for f in found if not (is_within(f, root) or is_within(f, home))]
            if away:
                raise MemoryUnavailableError(
                    f"memory.documents: {root} holds links to files outside it "
                    f"({', '.join(away[:3])}); list those files themselves or remove the links"
                )
        return ingest(self.store, paths, progress=progress, cancel=cancel)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> AgentMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ wiring
    def tools(self) -> list[Tool]:
        """The memory tools the agent file lists (their approval comes from the file)."""
        from engine.tools.memory_tools import memory_tools

        listed = {t.name for t in self.spec.tools if t.kind != "command"}
        return [t for t in memory_tools(self.store, self.spec.name) if t.name in listed]

    def hooks(self, base: RunHooks | None = None) -> RunHooks:
        """`base` with retrieve, lesson, after_run and observe added (existing ones still run)."""
        base = base or RunHooks()
        return replace(
            base,
            retrieve=self.retrieve,
            lesson=_chain(self.lesson, base.lesson),
            after_run=_chain(self.after_run, base.after_run),
            observe=_chain(self.observe, base.observe),
        )

    # ------------------------------------------------------------------ hooks
    def retrieve(self, query: str, k: int) -> list[MemoryItem]:
        if not self.kinds:
            return []
        found = self.store.retrieve(
            query, k=k, token_budget=self.spec.memory.token_budget, kinds=self.kinds
        )
        return [
            MemoryItem(
                m.item.text,
                m.score,
                m.item.source or str(m.item.metadata.get("type", "")),
                m.item.id,
                m.item.kind,
                m.relevance,
                m.recency,
                m.pinned_bonus,
                m.tokens,
            )
            for m in found.items
            if m.relevance >= self.spec.memory.min_relevance
        ]

    def observe(self, event: Any) -> None:
        """The scratchpad: each step's thought and action, and its observation."""
        if isinstance(event, ev.RunStarted):
            self.run_id = event.run_id
        elif isinstance(event, ev.ToolCall):  # stored with its result: one embedding call
            head = f"Thought: {event.thought}\n" if event.thought else ""
            action = f"{event.tool} {json.dumps(event.arguments, ensure_ascii=False)}"
            self._pending = (f"{head}Action: {action}", "action", {"step": event.step})
        elif isinstance(event, ev.ToolResult):
            text = event.output[:RESULT_CHARS] or "(no output)"
            entry = (f"Observation ({event.tool}): {text}", "observation", {"step": event.step})
            self._add("short", [*self._take_pending(), entry])
        elif isinstance(event, ev.RunFinished):
            self._add("short", self._take_pending())

    def _take_pending(self) -> list[Entry]:
        pending, self._pending = self._pending, None
        return [pending] if pending else []

    def lesson(self, lesson: Lesson) -> None:
        if "reflections" in self.spec.memory.remember:
            self._add("reflection", [(lesson.lesson, "lesson", {"task": lesson.task})])

    def after_run(self, record: RunRecord) -> None:
        self.run_id = record.run_id
        remember = self.spec.memory.remember
        entries: list[Entry] = []
        if "history" in remember and record.final_answer:
            entries.append((f"Task: {record.task}\nAnswer: {record.final_answer}", "task", {}))
        if "tool_results" in remember:
            entries += [(text, "tool_result", {"tool": tool}) for text, tool in _useful(record)]
        self._add("long", entries)  # one batch: one embedding call, one transaction
        self._end_scratchpad(record)

    # ------------------------------------------------------------------ helpers
    def scratchpad(self, run_id: str) -> list[Any]:
        """This run's `short` items, oldest first."""
        from engine.memory.filters import Filter

        where = Filter(kinds=["short"], metadata={"run_id": run_id})
        return list(reversed(self.store.items(where, limit=10_000)))

    def _end_scratchpad(self, record: RunRecord) -> None:
        from engine.memory.filters import Filter

        mode = self.spec.memory.scratchpad
        if mode == "keep":
            return
        try:
            if mode == "summarize":
                lines = [item.text.replace("\n", " ") for item in self.scratchpad(record.run_id)]
                if lines:
                    digest = "\n".join(f"- {line[:200]}" for line in lines)[:SUMMARY_CHARS]
                    text = f"Steps taken for the task: {record.task}\n{digest}"
                    self._add("long", [(text, "scratchpad_summary", {})])
            self.store.delete_where(Filter(kinds=["short"], metadata={"run_id": record.run_id}))
        except StoreError as exc:
            self.problems.append(str(exc))

    def _add(self, kind: str, entries: list[Entry]) -> None:
        """Store (text, type, extra metadata) entries of one kind as one batch."""
        entries = [e for e in entries if e[0].strip()]
        if not entries:
            return
        base = {"run_id": self.run_id, "agent": self.spec.name}
        metadata = [{**base, "type": what, **extra} for _, what, extra in entries]
        try:
            self.store.add([text for text, _, _ in entries], kind=kind, metadata=metadata)
        except StoreError as exc:
            self.problems.append(str(exc))


def _useful(record: RunRecord) -> list[tuple[str, str]]:
    """Tool results worth keeping: successful, with output, not memory's own tools."""
    kept: list[tuple[str, str]] = []
    seen: set[str] = set()
    for step in record.steps:
        tool, output = str(step.get("tool", "")), str(step.get("output", "")).strip()
        if not step.get("ok") or tool in MEMORY_TOOLS or not output or output == "(no output)":
            continue
        arguments = json.dumps(step.get("arguments", {}), ensure_ascii=False)
        text = f"{tool} {arguments} -> {output[:RESULT_CHARS]}"
        if text not in seen:
            seen.add(text)
            kept.append((text, tool))
    return kept


def _chain(first: Any, second: Any) -> Any:
    if second is None:
        return first

    def both(value: Any) -> None:
        first(value)
        second(value)

    return both


def without_memory(spec: AgentSpec) -> AgentSpec:
    """The spec with memory off and the memory tools left out (`agent run --no-memory`)."""
    tools = tuple(t for t in spec.tools if t.kind == "command" or t.name not in MEMORY_TOOLS)
    return replace(spec, memory=replace(spec.memory, enabled=False), tools=tools)
