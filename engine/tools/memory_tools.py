"""The memory tools over an agent's open store: `memory.search`, `memory.save`,
`documents.search` (engine.memory.api does the work; this adds names and schemas).

The agent core builds them when the agent file turns memory on and hands them to the
catalogue through `build_registry(extra=...)`; the file's entries choose which ones the
agent gets and their approval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import StoreError
from engine.tools.base import Tool, ToolError

if TYPE_CHECKING:
    from engine.memory.store import MemoryStore

#: What `memory.search` reads: the run's own scratchpad is already in its conversation.
LONG_TERM = ("long", "reflection")
_QUERY = {"type": "string", "minLength": 1, "description": "what to look for"}
_K = {"type": "integer", "minimum": 1, "maximum": 20, "description": "how many results (5)"}


def _compact(result: dict[str, Any]) -> dict[str, Any]:
    """The hits as the model reads them: text, kind, score (and source for documents)."""
    hits = []
    for hit in result["hits"]:
        row = {"text": hit["text"], "kind": hit["kind"], "score": round(hit["score"], 3)}
        if hit.get("source"):
            row["source"] = hit["source"]
        hits.append(row)
    return {"hits": hits}


def memory_tools(store: MemoryStore, agent: str = "") -> list[Tool]:
    """The three tools, bound to `store` (which must stay open while they are used)."""
    from engine.memory import api

    def search(query: str, k: int = 5) -> dict[str, Any]:
        try:
            return _compact(api.memory_search(store, query, k, LONG_TERM))
        except StoreError as exc:
            raise ToolError(str(exc)) from exc

    def save(text: str) -> dict[str, Any]:
        try:
            saved = api.memory_save(store, text, "long", {"agent": agent} if agent else None)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return {"saved": True, **saved}

    def documents(query: str, k: int = 5) -> dict[str, Any]:
        try:
            return _compact(api.documents_search(store, query, k))
        except StoreError as exc:
            raise ToolError(str(exc)) from exc

    search_args = {
        "type": "object",
        "properties": {"query": _QUERY, "k": _K},
        "required": ["query"],
        "additionalProperties": False,
    }
    return [
        Tool(
            "memory.search",
            "Search your long-term memory (facts saved earlier, past tasks and answers, "
            "lessons) for what is related to the query.",
            search_args,
            search,
            source="memory",
        ),
        Tool(
            "memory.save",
            "Save a fact to your long-term memory so that later runs can find it.",
            {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "minLength": 1, "description": "the fact to keep"}
                },
                "required": ["text"],
                "additionalProperties": False,
            },
            save,
            source="memory",
        ),
        Tool(
            "documents.search",
            "Search the documents ingested into your memory; each hit has its source file.",
            search_args,
            documents,
            source="memory",
        ),
    ]
