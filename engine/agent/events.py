"""What a run yields: small frozen dataclasses, each with a monotonic time `t` and a `step`.

`step` counts model steps from 1 (0 = before the first step: RunStarted, PlanStep,
MemoryHit). `to_json` gives the dict a transcript line holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.llm.events import GenerationStats


@dataclass(frozen=True)
class RunEvent:
    t: float  # time.monotonic()
    step: int

    def to_json(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class RunStarted(RunEvent):
    run_id: str
    agent: str
    task: str
    strategy: str
    model: str
    tools: tuple[str, ...]
    transcript: str | None  # path of the JSON Lines transcript, if one is written


@dataclass(frozen=True)
class PlanStep(RunEvent):
    """The plan of a plan_execute run and its progress.

    status "planned": the plan after the edit_plan hook (edited = the hook changed it);
    "started" / "done": subtask `index` (0-based) began / finished with `result`.
    """

    plan: tuple[str, ...]
    status: str = "planned"
    index: int = -1
    result: str = ""
    edited: bool = False


@dataclass(frozen=True)
class MemoryHit(RunEvent):
    """The memories put in the prompt before a step (only when there are some), best
    first: `items` holds each with its score and the parts of it
    (engine.agent.hooks.MemoryItem). `text` (one line per item), `score` (the best) and
    `source` (the kinds) summarise them for simple views."""

    query: str
    text: str = ""
    score: float = 0.0
    source: str = ""
    items: tuple[Any, ...] = ()
    token_budget: int = 0
    tokens_used: int = 0


@dataclass(frozen=True)
class MemoryQuery(RunEvent):
    """The retrieve hook answered: `t` is when it returned, `started_t` when it was called
    (the MemoryHit events follow)."""

    query: str
    top_k: int
    hits: int
    started_t: float


@dataclass(frozen=True)
class TokenDelta(RunEvent):
    """Generated text; phase: step | plan | reflect."""

    text: str
    phase: str = "step"


@dataclass(frozen=True)
class GenerationTimed(RunEvent):
    """The timings of one model generation, after its last TokenDelta (phase: step | plan |
    reflect): the engine's own `stats` (its `t_start`: prefill began; `t_first_token`;
    `t_end`), and `requested_t`: when the loop asked for it (then the prompt is rendered
    and the grammar compiled; the first one also builds the grammar's view of the
    tokenizer). All on the monotonic clock of the other events."""

    phase: str
    stop_reason: str
    requested_t: float
    stats: GenerationStats = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "t": self.t,
            "step": self.step,
            "phase": self.phase,
            "stop_reason": self.stop_reason,
            "requested_t": self.requested_t,
            **self.stats.to_dict(),
        }


@dataclass(frozen=True)
class ToolCall(RunEvent):
    """A step that called (or tried to call) a tool. valid=False: it never ran."""

    tool: str
    arguments: dict[str, Any]
    thought: str = ""
    valid: bool = True
    problems: tuple[str, ...] = ()
    text: str = ""  # the step's raw output


@dataclass(frozen=True)
class ToolResult(RunEvent):
    tool: str
    ok: bool
    output: str
    error_kind: str | None = None
    duration_s: float = 0.0


@dataclass(frozen=True)
class Reflection(RunEvent):
    critique: str
    verdict: str  # keep | revise
    lesson: str = ""


@dataclass(frozen=True)
class FinalAnswer(RunEvent):
    text: str
    thought: str = ""
    forced: bool = False  # the step budget left the model no choice but to answer


@dataclass(frozen=True)
class RunMetrics:
    steps: int = 0
    tool_calls: int = 0
    valid_steps: int = 0
    invalid_steps: int = 0
    #: Tool calls made again after a failed one (the retry policy).
    retries: int = 0
    #: answer: vote: extra final-answer candidates written, and their generated tokens
    #: (also counted in generated_tokens / model_s: this is their share).
    votes: int = 0
    vote_tokens: int = 0
    #: Final answers written again under the grounded grammar (the free one broke it).
    regrounded: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    model_s: float = 0.0
    tool_s: float = 0.0
    wall_s: float = 0.0
    ttft_ms: tuple[float, ...] = field(default=(), repr=False)
    decode_tok_s: tuple[float, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        ttft, rates = data.pop("ttft_ms"), data.pop("decode_tok_s")
        data["mean_ttft_ms"] = round(sum(ttft) / len(ttft), 2) if ttft else None
        data["mean_decode_tok_s"] = round(sum(rates) / len(rates), 2) if rates else None
        return data


#: Why a run ended.
STOP_REASONS = ("final_answer", "max_steps", "max_tokens", "wall_clock", "cancelled", "error")


@dataclass(frozen=True)
class RunFinished(RunEvent):
    stop_reason: str
    final_answer: str | None
    metrics: RunMetrics

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["metrics"] = self.metrics.to_dict()
        return data


@dataclass(frozen=True)
class RunError(RunEvent):
    """Something outside the model's control failed (the run then finishes with `error`)."""

    message: str
    kind: str = "error"


AgentEvent = (
    RunStarted
    | PlanStep
    | MemoryQuery
    | MemoryHit
    | TokenDelta
    | GenerationTimed
    | ToolCall
    | ToolResult
    | Reflection
    | FinalAnswer
    | RunFinished
    | RunError
)
