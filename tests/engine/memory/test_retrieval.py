"""Retrieval: recall@k on a labelled set of real paragraphs; recency, pinning, token budget."""

from __future__ import annotations

import json
import time
from pathlib import Path

from engine.memory.api import documents_search, memory_save, memory_search
from engine.memory.ingest import ingest
from engine.memory.retrieval import format_section
from engine.memory.store import MemoryStore

DATA = Path(__file__).resolve().parents[2] / "data" / "memory"


def test_recall_at_k_on_labelled_paragraphs(store: MemoryStore) -> None:
    result = ingest(store, [DATA / "corpus"], max_tokens=80, overlap=16)
    assert result.files == 3 and result.chunks >= 15
    questions = json.loads((DATA / "questions.json").read_text())
    found_at: list[int | None] = []
    for row in questions:
        hits = store.search(row["q"], k=5, kinds=["document"])
        ranks = [i for i, h in enumerate(hits) if row["answer"] in h.item.text]
        found_at.append(ranks[0] if ranks else None)
    recall = {k: sum(r is not None and r < k for r in found_at) / len(questions) for k in (1, 3, 5)}
    print(f"recall@1={recall[1]:.3f} recall@3={recall[3]:.3f} recall@5={recall[5]:.3f}")
    assert recall[1] >= 0.8 and recall[3] >= 0.9 and recall[5] >= 0.95


def test_recency_and_pinning_reorder_relevance(store: MemoryStore) -> None:
    old = time.time() - 90 * 86400
    text_old = "The team standup happens at 9:30 every morning."
    text_new = "The team standup now happens at 9:45 every morning."
    a = store.add([text_old], created=[old])[0]
    b = store.add([text_new])[0]
    got = store.retrieve("when is the team standup?", k=2)
    assert [m.item.id for m in got.items] == [b, a]
    newest = got.items[0]
    assert newest.recency > 0.99 and got.items[1].recency < 0.02
    assert newest.score == newest.relevance + 0.1 * newest.recency
    store.pin(a)
    pinned = store.retrieve("when is the team standup?", k=2)
    assert pinned.items[0].item.id == a and pinned.items[0].pinned_bonus == 0.15
    assert pinned.candidates == 2 and pinned.k == 2


def test_token_budget_and_kinds(store: MemoryStore) -> None:
    long_text = "The deployment checklist: " + "verify the backups, " * 40
    store.add([long_text, "Deploy on Tuesdays only."], kind="long")
    store.add(["Lesson: announce every deployment in the channel."], kind="reflection")
    store.add(["Thought: I should deploy now."], kind="short")
    got = store.retrieve("deployment rules", k=5, token_budget=40, kinds=["long", "reflection"])
    assert got.tokens_used <= 40 and got.items
    assert all(m.item.kind in ("long", "reflection") for m in got.items)
    assert long_text not in [m.item.text for m in got.items]  # over budget on its own
    assert sum(m.tokens for m in got.items) == got.tokens_used
    assert format_section(got).startswith("- [")


def test_tool_functions(store: MemoryStore) -> None:
    saved = memory_save(store, "The user's favourite colour is teal.")
    assert saved == {"id": saved["id"], "kind": "long"}
    assert store.get(saved["id"]).metadata == {"via": "memory.save"}  # type: ignore[union-attr]
    hits = memory_search(store, "what colour does the user like", k=3)["hits"]
    assert hits[0]["id"] == saved["id"] and set(hits[0]) >= {"id", "text", "kind", "score"}
    ingest(store, [DATA / "corpus" / "kitchen.md"], max_tokens=80, overlap=16)
    docs = documents_search(store, "how to keep knives sharp", k=2)["hits"]
    assert docs[0]["kind"] == "document" and docs[0]["source"].endswith("kitchen.md")
    assert all(h["kind"] != "document" for h in memory_search(store, "knives", k=10)["hits"])
