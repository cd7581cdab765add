"""The shipped agent templates on the default model: step validity and the grammar's cost.

    python scripts/bench_agents.py [--model default] [--out results.json] [--limit N]

Every task of scripts/agent_tasks.yaml runs twice, one after the other: with the step
grammar (as `agent run` does) and without it. Reported: steps, how many parsed and
validated, stop reasons, and per generation the time to first token (from the call,
so building the grammar's matcher is included) and decode tokens/s, side by side.
A benchmark, not a test; run it with AGENT_WORKBENCH_HOME pointing at a data home with
a prepared default model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from engine.agent import events as ev
from engine.agent.hooks import RunHooks
from engine.agent.launch import agent_run, open_model
from engine.agent.model import SessionModel
from engine.agent.templates import new_agent, templates
from engine.llm.events import GenerationFinished, TokenDelta

TASKS = Path(__file__).with_name("agent_tasks.yaml")


class TimedModel:
    """A SessionModel that times each generation from the call (grammar build included)."""

    def __init__(self, inner: SessionModel) -> None:
        self.inner = inner
        self.name, self.provider = inner.name, inner.provider
        self.context_length, self.manifest_hash = inner.context_length, inner.manifest_hash
        self.sampling = inner.sampling
        self.rows: list[dict[str, Any]] = []

    def render(self, messages: Any) -> str:
        return self.inner.render(messages)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def generate(self, prompt: str, **kwargs: Any) -> Iterator[Any]:
        start = time.monotonic()
        stamps: list[float] = []
        for event in self.inner.generate(prompt, **kwargs):
            if isinstance(event, TokenDelta) and event.token_id >= 0:
                stamps.append(time.monotonic())
            if isinstance(event, GenerationFinished):
                n = len(stamps)
                self.rows.append(
                    {
                        "grammar": kwargs.get("grammar") is not None,
                        "tokens": n,
                        "prompt_tokens": event.stats.prompt_tokens,
                        "ttft_ms": (stamps[0] - start) * 1000 if stamps else None,
                        "decode_tok_s": (n - 1) / (stamps[-1] - stamps[0]) if n > 2 else None,
                        "stop": event.stop_reason,
                    }
                )
            yield event


def run_task(
    template: Path, task: str, model: TimedModel, constrained: bool, folder: Path
) -> dict[str, Any]:
    from engine.agent.agentfile import load

    agent = load(template)
    hooks = RunHooks(before_call=lambda request: True)
    with agent_run(
        agent, task, model, hooks=hooks, constrained=constrained, transcript=folder
    ) as run:
        events = list(run)
    finished = events[-1]
    assert isinstance(finished, ev.RunFinished)
    calls = [e for e in events if isinstance(e, ev.ToolCall)]
    results = [e for e in events if isinstance(e, ev.ToolResult)]
    m = finished.metrics
    return {
        "constrained": constrained,
        "steps": m.steps,
        "valid_steps": m.valid_steps,
        "invalid_steps": m.invalid_steps,
        "tool_calls": len(calls),
        "valid_tool_calls": sum(c.valid for c in calls),
        "tools_ok": sum(r.ok for r in results),
        "stop_reason": finished.stop_reason,
        "final_answer": finished.final_answer,
        "wall_s": round(m.wall_s, 2),
        "invalid_examples": [c.text for c in calls if not c.valid][:2],
    }


def controlled(
    model: TimedModel, agents: dict[str, Any], tasks: dict[str, list[str]], new_tokens: int
) -> dict[str, Any]:
    """The grammar's own cost: each task's first-step prompt, cached once, then one
    generation with the grammar and one without from the same cache (order alternating),
    so only the mask and the matcher differ."""
    from engine.agent.grammar import step_grammar
    from engine.agent.prompt import system_prompt
    from engine.agent.run import AgentRun
    from engine.tools.catalog import build_registry

    rows: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    count = 0
    for name, items in tasks.items():
        spec = agents[name].spec
        entries = [t.to_entry() for t in spec.tools]
        with build_registry(entries, workspace=agents[name].workspace) as registry:
            tools = registry.callable_tools()
            grammar = step_grammar(tools, thoughts=spec.planning.thoughts, max_tokens=new_tokens)
            for task in items:
                run = AgentRun(spec, model, registry, task, workspace=Path("."), transcript=False)
                system = system_prompt(spec, tools)
                prompt = model.render(
                    [{"role": "system", "content": system}, *run.opening("Final Answer")]
                )
                model.inner.session.complete(prompt, max_new_tokens=1)  # prefill into the cache
                order = (True, False) if count % 2 == 0 else (False, True)
                for constrained in order:
                    model.rows = []
                    for _ in model.generate(
                        prompt,
                        grammar=grammar if constrained else None,
                        max_new_tokens=new_tokens,
                        cancel=None,
                    ):
                        pass
                    rows[constrained].extend(model.rows)
                count += 1
    return {
        "prompts": count,
        "new_tokens_cap": new_tokens,
        "constrained": _gen_stats(rows[True]),
        "unconstrained": _gen_stats(rows[False]),
    }


def _gen_stats(gens: list[dict[str, Any]]) -> dict[str, Any]:
    def med(values: list[float]) -> float | None:
        return round(statistics.median(values), 1) if values else None

    ttft = [g["ttft_ms"] for g in gens if g["ttft_ms"] is not None]
    rate = [g["decode_tok_s"] for g in gens if g["decode_tok_s"] is not None]
    return {
        "generations": len(gens),
        "generated_tokens": sum(g["tokens"] for g in gens),
        "ttft_ms_median": med(ttft),
        "ttft_ms_mean": round(statistics.mean(ttft), 1) if ttft else None,
        "decode_tok_s_median": med(rate),
        "decode_tok_s_mean": round(statistics.mean(rate), 1) if rate else None,
    }


def _summary(rows: list[dict[str, Any]], gens: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(rows),
        "steps": sum(r["steps"] for r in rows),
        "valid_steps": sum(r["valid_steps"] for r in rows),
        "invalid_steps": sum(r["invalid_steps"] for r in rows),
        "tool_calls": sum(r["tool_calls"] for r in rows),
        "runs_with_valid_tool_call": sum(r["valid_tool_calls"] > 0 for r in rows),
        "runs_with_final_answer": sum(bool(r["final_answer"]) for r in rows),
        "stop_reasons": dict(Counter(r["stop_reason"] for r in rows)),
        "wall_s": round(sum(r["wall_s"] for r in rows), 1),
        **(_gen_stats(gens) if gens else {}),
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="aw-bench-agents-") as folder:
        return bench(Path(folder))


def bench(work: Path) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", help="write every run's details as JSON here")
    parser.add_argument("--limit", type=int, default=0, help="tasks per template (0 = all)")
    parser.add_argument("--constrained-only", action="store_true")
    parser.add_argument("--controlled-tokens", type=int, default=48)
    args = parser.parse_args()
    tasks: dict[str, list[str]] = yaml.safe_load(TASKS.read_text(encoding="utf-8"))
    found = templates()
    first = new_agent("calculator", work / "probe.agent.yaml")
    inner = open_model(first.spec, args.model)
    t0 = time.monotonic()
    inner.constraint_tokenizer()  # built once per model and process: reported, not timed below
    tokenizer_s = time.monotonic() - t0
    model = TimedModel(inner)
    for constrained in (True, False):  # warm-up: the first generation of a session is slower
        run_task(first.path or found["calculator"], "What is 1 + 1?", model, constrained, work)
    agents = {name: new_agent(name, work / f"{name}.agent.yaml") for name in tasks}
    runs: list[dict[str, Any]] = []
    gens: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    modes = [True] if args.constrained_only else [True, False]
    for name, items in tasks.items():
        agent = agents[name]
        for task in items[: args.limit or None]:
            for constrained in modes:
                model.rows = []
                row = run_task(agent.path or found[name], task, model, constrained, work / "runs")
                row.update(template=name, task=task)
                runs.append(row)
                gens[constrained].extend(model.rows)
                sys.stderr.write(
                    f"{name:<10} {'grammar' if constrained else 'free   '} "
                    f"{row['valid_steps']}/{row['steps']} valid  {row['stop_reason']:<12} "
                    f"{task[:50]!r} -> {str(row['final_answer'])[:60]!r}\n"
                )
    limited = {name: items[: args.limit or None] for name, items in tasks.items()}
    sys.stderr.write("controlled comparison of the grammar's cost...\n")
    same_prompt = controlled(model, agents, limited, args.controlled_tokens)
    result = {
        "model": model.name,
        "provider": model.provider,
        "tasks": len(runs) // len(modes),
        "grammar_tokenizer_build_s": round(tokenizer_s, 2),
        "constrained": _summary([r for r in runs if r["constrained"]], gens[True]),
        "unconstrained": _summary([r for r in runs if not r["constrained"]], gens[False]),
        "same_prompt": same_prompt,
        "per_template": {
            name: _summary([r for r in runs if r["template"] == name and r["constrained"]], [])
            for name in tasks
        },
    }
    if args.out:
        Path(args.out).write_text(json.dumps({**result, "runs": runs}, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
