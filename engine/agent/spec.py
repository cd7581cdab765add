"""`AgentSpec`: an agent file's parts as typed dataclasses (see docs/agents.md).

`from_data` reads plain data that already passed the JSON Schema; `to_data` gives it back
with every value the person wrote, in the file's order (unknown keys are refused by the
schema, so nothing is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine.llm.sampling import SamplingParams

SCHEMA_VERSION = 1
Strategy = Literal["react", "plan_execute", "reflect"]
STRATEGIES: tuple[str, ...] = ("react", "plan_execute", "reflect")
ANSWERS: tuple[str, ...] = ("free", "grounded", "vote")


@dataclass(frozen=True)
class ToolSpec:
    """One tool entry: a built-in (name, approval, settings) or a command tool."""

    name: str
    approval: str | None = None  # None: the tool's own default
    settings: dict[str, Any] = field(default_factory=dict)
    kind: str = "builtin"
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    command: str | list[str] | None = None
    timeout_s: float | None = None
    cwd: str | None = None

    def to_entry(self) -> dict[str, Any]:
        """The entry as the tool catalogue takes it (and as the file writes it)."""
        entry: dict[str, Any] = {"name": self.name}
        if self.kind == "command":
            entry.update(kind="command", description=self.description)
            if self.parameters:  # left out: the tool takes no arguments
                entry["parameters"] = self.parameters
            entry["command"] = self.command
            if self.timeout_s is not None:
                entry["timeout_s"] = self.timeout_s
            if self.cwd is not None:
                entry["cwd"] = self.cwd
        elif self.settings:
            entry["settings"] = dict(self.settings)
        if self.approval is not None:
            entry["approval"] = self.approval
        return entry


@dataclass(frozen=True)
class PlanningSpec:
    strategy: Strategy = "react"
    max_steps: int = 6
    max_tokens: int = 4096
    max_seconds: float = 300.0
    tool_choice: Literal["auto", "required"] = "auto"
    thoughts: bool = True
    max_plan_steps: int = 4
    #: free: any one-line final answer. grounded: after a successful tool call the answer
    #: quotes one of the last observation's values (engine.agent.grounding).
    #: vote: grounded, and the final answer is the majority of `votes` candidates (the
    #: greedy one and votes-1 sampled), by normalised value (engine.agent.voting).
    answer: Literal["free", "grounded", "vote"] = "free"
    votes: int = 5
    #: After a tool error the next steps must call a tool again (corrected arguments) this
    #: many times before an answer, which must then say that the tool failed.
    retries_after_error: int = 2
    #: Worked examples shown: all as written, or the `max_examples` most like the task,
    #: the most similar last (engine.agent.shots).
    examples: Literal["all", "similar"] = "all"
    max_examples: int = 4


#: What the agent's memory writes and reads (`memory.remember` in the agent file).
REMEMBER: tuple[str, ...] = ("history", "tool_results", "reflections", "documents")
#: What happens to a run's scratchpad (kind `short`) when the run ends.
SCRATCHPAD: tuple[str, ...] = ("drop", "summarize", "keep")


@dataclass(frozen=True)
class MemorySpec:
    """`enabled`: the run opens the agent's store. Each step retrieves at most `top_k`
    items within `token_budget` model tokens, each at least `min_relevance` similar to
    the query (cosine; an unrelated memory misleads a small model). `remember`: what is
    stored after a run and retrieved (history = task + answer, tool_results, reflections
    = lessons, documents = ingested chunks). `scratchpad`: drop, summarize (one `long`
    digest) or keep. `documents`: files or folders (relative to the agent file) ingested
    when a run opens the memory (unchanged files are skipped)."""

    enabled: bool = False
    top_k: int = 3
    remember: tuple[str, ...] = REMEMBER
    token_budget: int = 256
    scratchpad: Literal["drop", "summarize", "keep"] = "drop"
    min_relevance: float = 0.5
    documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str = "default"
    provider: str = "auto"
    max_step_tokens: int = 256
    sampling: SamplingParams = field(default_factory=SamplingParams)


@dataclass(frozen=True)
class ExampleStep:
    tool: str
    arguments: dict[str, Any]
    observation: str
    thought: str = ""


@dataclass(frozen=True)
class Example:
    """A worked example shown to the model before the task (few-shot)."""

    task: str
    answer: str
    steps: tuple[ExampleStep, ...] = ()
    plan: tuple[str, ...] = ()  # for plan_execute agents: a worked plan


@dataclass(frozen=True)
class AgentSpec:
    name: str
    goals: tuple[str, ...]
    description: str = ""
    persona: str = ""
    tools: tuple[ToolSpec, ...] = ()
    mcp_servers: tuple[dict[str, Any], ...] = ()
    planning: PlanningSpec = field(default_factory=PlanningSpec)
    memory: MemorySpec = field(default_factory=MemorySpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    workspace: str = "workspace"
    examples: tuple[Example, ...] = ()
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AgentSpec:
        """Build from schema-valid plain data (dicts, lists, scalars)."""
        planning = dict(data.get("planning") or {})
        memory = dict(data.get("memory") or {})
        for key in ("remember", "documents"):
            if key in memory:
                memory[key] = tuple(str(v) for v in memory[key])
        model = dict(data.get("model") or {})
        model["sampling"] = SamplingParams.from_dict(dict(model.get("sampling") or {}))
        return cls(
            schema_version=int(data["schema_version"]),
            name=str(data["name"]),
            description=str(data.get("description", "")),
            persona=str(data.get("persona", "")),
            goals=tuple(str(g) for g in data["goals"]),
            tools=tuple(ToolSpec(**dict(t)) for t in data.get("tools") or ()),
            mcp_servers=tuple(dict(s) for s in data.get("mcp_servers") or ()),
            planning=PlanningSpec(**planning),
            memory=MemorySpec(**memory),
            model=ModelSpec(**model),
            workspace=str(data.get("workspace", "workspace")),
            examples=tuple(_example(e) for e in data.get("examples") or ()),
        )

    def to_data(self) -> dict[str, Any]:
        """Plain data for the file: defaults are written out so the person sees them."""
        data: dict[str, Any] = {"schema_version": self.schema_version, "name": self.name}
        if self.description:
            data["description"] = self.description
        if self.persona:
            data["persona"] = self.persona
        data["goals"] = list(self.goals)
        data["tools"] = [t.to_entry() for t in self.tools]
        if self.mcp_servers:
            data["mcp_servers"] = [dict(s) for s in self.mcp_servers]
        p = self.planning
        data["planning"] = {
            "strategy": p.strategy,
            "max_steps": p.max_steps,
            "max_tokens": p.max_tokens,
            "max_seconds": p.max_seconds,
            "tool_choice": p.tool_choice,
            "thoughts": p.thoughts,
            "max_plan_steps": p.max_plan_steps,
            "answer": p.answer,
            "votes": p.votes,
            "retries_after_error": p.retries_after_error,
            "examples": p.examples,
            "max_examples": p.max_examples,
        }
        m = self.memory
        data["memory"] = {
            "enabled": m.enabled,
            "top_k": m.top_k,
            "token_budget": m.token_budget,
            "min_relevance": m.min_relevance,
            "remember": list(m.remember),
            "scratchpad": m.scratchpad,
        }
        if m.documents:
            data["memory"]["documents"] = list(m.documents)
        sampling = {k: v for k, v in self.model.sampling.to_dict().items() if v is not None}
        data["model"] = {
            "name": self.model.name,
            "provider": self.model.provider,
            "max_step_tokens": self.model.max_step_tokens,
            "sampling": sampling,
        }
        data["workspace"] = self.workspace
        if self.examples:
            data["examples"] = [_example_data(e) for e in self.examples]
        return data


def _example(data: dict[str, Any]) -> Example:
    steps = tuple(ExampleStep(**dict(s)) for s in data.get("steps") or ())
    plan = tuple(str(p) for p in data.get("plan") or ())
    return Example(task=str(data["task"]), answer=str(data["answer"]), steps=steps, plan=plan)


def _example_data(example: Example) -> dict[str, Any]:
    steps = []
    for s in example.steps:
        step: dict[str, Any] = {"thought": s.thought} if s.thought else {}
        step.update(tool=s.tool, arguments=s.arguments, observation=s.observation)
        steps.append(step)
    data: dict[str, Any] = {"task": example.task}
    if example.plan:
        data["plan"] = list(example.plan)
    if steps:
        data["steps"] = steps
    data["answer"] = example.answer
    return data
