"""What the agent's memory adds to each step, with a scripted model (no LLM time at all).

    PYTHONPATH=. python scripts/bench_agent_memory_overhead.py --embedder FOLDER [--repeats 7]

A react run of 5 tool steps and an answer, against a store of 1,000 items, with memory
on (retrieval before each step, the scratchpad, the after-run writes) and off. Reports
the median wall time per step of each and the number of embedder calls per run. Writes
only to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from engine.agent.memory import AgentMemory
from engine.agent.run import AgentRun
from engine.agent.spec import AgentSpec, MemorySpec
from engine.memory.embedder import Embedder
from engine.memory.settings import MemorySettings
from engine.tools.base import Tool, ToolRegistry
from tests.helpers.fake_model import ScriptedModel, call, final

STEPS = 6


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first
        b: second
    """
    return a + b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", required=True, help="prepared embedder folder")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-agent-memory-"))
    registry = ToolRegistry([Tool.from_function(add)])
    spec = AgentSpec(name="bench", goals=("Answer.",), memory=MemorySpec(enabled=True))
    spec = replace(spec, planning=replace(spec.planning, max_steps=STEPS + 1))
    embedder = Embedder(Path(args.embedder), provider="cpu")
    calls = {"n": 0}
    embed = embedder.embed

    def counted(texts: list[str]) -> object:
        calls["n"] += 1
        return embed(texts)

    embedder.embed = counted  # type: ignore[method-assign]
    settings = MemorySettings(embedder=args.embedder)
    with AgentMemory.open(spec, path=folder / "s", settings=settings, embedder=embedder) as mem:
        mem.store.add([f"fact {i} about topic {i % 17}" for i in range(1000)], kind="long")
        results: dict[str, dict[str, float]] = {}
        for name, memory_on in (("off", False), ("on", True)) * 2:
            times = []
            for _ in range(args.repeats):
                script = [call("add", f'{{"a": 1, "b": {i}}}') for i in range(STEPS - 1)]
                model = ScriptedModel([*script, final("done")])
                run_spec = spec if memory_on else replace(spec, memory=MemorySpec())
                hooks = mem.hooks() if memory_on else None
                calls["n"] = 0
                start = time.perf_counter()
                run = AgentRun(run_spec, model, registry, "What is fact 5 about?",
                               workspace=folder, hooks=hooks, transcript=False)  # fmt: skip
                list(run)
                times.append((time.perf_counter() - start) / STEPS)
            results[name] = {
                "median_ms_per_step": round(statistics.median(times) * 1000, 1),
                "embedder_calls_per_run": calls["n"],
            }
            sys.stderr.write(f"memory {name}: {json.dumps(results[name])}\n")
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
