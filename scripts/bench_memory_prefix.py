"""Where the per-step "Relevant memory" goes, and what it costs the KV cache.

    python scripts/bench_memory_prefix.py --model FOLDER --embedder FOLDER [--tasks N]

The calculator template with memory on (a store filled with 40 facts) runs each task
twice on the real model: once as `agent run` does (the memory note after the
conversation, in the last message of each step) and once with the same note moved into
the system prompt (where a memory section would sit in the prompt assembly). Per
generation it records the prompt tokens, the tokens whose KV cache the session reused,
and the prefill time. A benchmark, not a test; it writes only to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.agent.launch import agent_run, open_model
from engine.agent.memory import AgentMemory
from engine.agent.templates import new_agent
from engine.llm.events import GenerationFinished
from engine.memory.embedder import Embedder
from engine.memory.filters import Filter
from engine.memory.settings import MemorySettings

MARK = "Relevant memory:"
TASKS = [
    "What is 345 * 12 - 17?",
    "How much is 19 percent of 2450?",
    "What is 7 to the power of 5?",
    "A box holds 24 eggs. How many eggs are in 17 boxes?",
    "What is 1000 divided by 8, plus 3?",
    "What is 123 + 456 + 789?",
]
THINGS = ["lamp", "chair", "table", "kettle", "rope", "tent", "stove", "map"] * 5
FACTS = [f"Note {i}: the {w} costs {i * 7 + 3} euros and weighs {i + 1} kg." for i, w in
         enumerate(THINGS)]  # fmt: skip


class Recording:
    """The session model; moves each step's memory note per `mode` (see the module doc)."""

    def __init__(self, model: Any, mode: str) -> None:
        self.model, self.mode = model, mode
        self.stats: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        shown = [dict(m) for m in messages]
        last = shown[-1]["content"]
        if self.mode != "after_transcript" and last.startswith(MARK):
            note, body = last.split("\n\n", 1)
            shown[-1]["content"] = body
            if self.mode == "in_system_prompt":
                shown[0]["content"] += "\n\n" + note
            else:  # own_turn: a user turn of its own before the last message
                shown.insert(len(shown) - 1, {"role": "user", "content": note})
        return str(self.model.render(shown))

    def generate(self, prompt: str, **options: Any) -> Iterator[Any]:
        for event in self.model.generate(prompt, **options):
            if isinstance(event, GenerationFinished):
                self.stats.append(event.stats)
            yield event


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="prepared chat model folder")
    parser.add_argument("--embedder", required=True, help="prepared embedder folder")
    parser.add_argument("--tasks", type=int, default=len(TASKS))
    parser.add_argument("--min-relevance", type=float, default=-1.0)
    parser.add_argument(
        "--modes", nargs="+", default=["after_transcript", "own_turn", "in_system_prompt"]
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-memory-prefix-"))
    agent = new_agent("calculator", folder / "calc.agent.yaml")
    # min_relevance -1 (default here): the top 3 memories are shown at every step, the
    # case where the placement matters for the cache (with 0.5 most steps show none).
    memory = replace(agent.spec.memory, enabled=True, top_k=3, min_relevance=args.min_relevance)
    spec = replace(agent.spec, memory=memory)
    settings = MemorySettings(embedder=args.embedder)
    embedder = Embedder(Path(args.embedder))
    session = open_model(spec, name=args.model)
    results: dict[str, Any] = {}
    with AgentMemory.open(spec, path=folder / "store", settings=settings, embedder=embedder) as mem:
        mem.store.add(FACTS, kind="long")
        for mode in args.modes:
            session.session.reset()
            model = Recording(session, mode)
            for task in TASKS[: args.tasks]:
                with agent_run(agent, task, model, spec=spec, hooks=mem.hooks(),
                               transcript=False) as run:  # fmt: skip
                    events = list(run)
                calls = [e.tool for e in events if type(e).__name__ == "ToolCall"]
                hits = [len(e.items) for e in events if type(e).__name__ == "MemoryHit"]
                calls.append(f"hits={hits}")
                sys.stderr.write(
                    f"  {mode}: {task!r} tools={calls} -> {events[-1].final_answer!r}\n"
                )
            stats = model.stats
            for st in stats:
                sys.stderr.write(f"    prompt {st.prompt_tokens} cached {st.cached_tokens} "
                                 f"prefill {st.prefill_ms:.0f} ms\n")  # fmt: skip
            prompt = sum(s.prompt_tokens for s in stats)
            cached = sum(s.cached_tokens for s in stats)
            results[mode] = {
                "generations": len(stats),
                "prompt_tokens": prompt,
                "cached_tokens": cached,
                "cached_fraction": round(cached / prompt, 3) if prompt else None,
                "prefilled_tokens": prompt - cached,
                "prefilled_per_generation": round((prompt - cached) / len(stats), 1),
                "prefill_ms_total": round(sum(s.prefill_ms for s in stats), 1),
                "prefill_ms_median": round(statistics.median(s.prefill_ms for s in stats), 1),
                "ttft_ms_median": round(statistics.median(s.ttft_ms for s in stats), 1),
            }
            sys.stderr.write(f"{mode} {json.dumps(results[mode])}\n")
            mem.store.delete_where(Filter(metadata={"agent": spec.name}))  # same store for both
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
