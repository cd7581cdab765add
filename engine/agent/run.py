"""`AgentRun`: one task run by one agent, as a generator of typed events.

    run = AgentRun(spec, model, registry, "What is 17 * 23?", workspace=folder)
    for event in run:        # RunStarted ... RunFinished, see engine.agent.events
        ...

Each model step is generated under the step grammar (engine.agent.grammar) and parsed
and validated again; an invalid step becomes an error observation the model reads.
Budgets (steps, tokens, wall clock) and cancellation end a run with a clear reason.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.agent import events as ev
from engine.agent import grounding, recall, shots, voting
from engine.agent.budget import Budget, BudgetExceeded, RunCancel
from engine.agent.grammar import ParsedStep, parse_step, step_grammar
from engine.agent.hooks import RunHooks, RunRecord
from engine.agent.model import Message, StepModel
from engine.agent.prompt import example_messages, memory_section, system_prompt, turns
from engine.agent.spec import AgentSpec
from engine.agent.strategies import plan_execute, reflect
from engine.agent.transcript import TranscriptWriter, transcript_path
from engine.errors import Cancelled, WorkbenchError
from engine.llm.constraints import Grammar
from engine.llm.events import GenerationFinished
from engine.llm.events import TokenDelta as LLMTokenDelta
from engine.progress import CancelToken
from engine.tools.base import Tool, ToolContext, ToolRegistry

#: Longest observation put back into the prompt (the event keeps the tool's whole output).
OBSERVATION_CHARS = 1500


class AgentRun:
    """Iterate it once. `constrained=False` turns the step grammar off (for measurements)."""

    #: Write a grounded answer free first and constrain only when it breaks the form
    #: (greedy only; the same result as always constraining, see `act`).
    lazy_grounding = True

    def __init__(
        self,
        spec: AgentSpec,
        model: StepModel,
        registry: ToolRegistry,
        task: str,
        *,
        workspace: Path,
        hooks: RunHooks | None = None,
        cancel: CancelToken | None = None,
        transcript: bool | Path = True,
        header: dict[str, Any] | None = None,
        constrained: bool = True,
    ) -> None:
        self.spec, self.model, self.registry, self.task = spec, model, registry, task
        self.workspace = workspace
        self.hooks = hooks or RunHooks()
        self.run_id = uuid.uuid4().hex
        self.constrained = constrained
        self._user_cancel = cancel
        self._transcript = transcript
        self._header = dict(header or {})
        p = spec.planning
        self.budget = Budget(p.max_steps, p.max_tokens)
        self.cancel = RunCancel(cancel, float("inf"))
        self.step = 0
        self.system = ""
        self.final: str | None = None
        self.forced = False
        self._metrics = ev.RunMetrics()
        self._settings = {t.name: dict(t.settings) for t in spec.tools}
        self._record: list[dict[str, Any]] = []  # tool steps, for the after-run hook
        #: Tool errors since the last successful call, and the tool that failed last.
        self._errors = 0
        self._failed_tool = ""
        #: The last successful observation (what a grounded answer quotes from).
        self._observed: str | None = None
        self._observed_arguments: dict[str, Any] = {}
        self._observed_tool = ""
        #: Memory texts recalled into this run's prompts (a grounded answer may quote them).
        self._recalled: list[str] = []
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    def __iter__(self) -> Iterator[ev.AgentEvent]:
        if self._started:
            raise RuntimeError("an AgentRun runs once; make a new one for another run")
        self._started = True
        writer = self._open_transcript()
        try:
            for event in self._run(writer.path if writer else None):
                if writer:
                    writer.write(event)
                if self.hooks.observe is not None:
                    self.hooks.observe(event)
                yield event
        finally:
            if writer:
                writer.close()

    def _open_transcript(self) -> TranscriptWriter | None:
        if self._transcript is False:
            return None
        folder = self._transcript if isinstance(self._transcript, Path) else None
        header = {
            "run_id": self.run_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "task": self.task,
            "agent": self.spec.to_data(),
            "model": self.model.name,
            "model_manifest_sha256": self.model.manifest_hash,
            "provider": self.model.provider,
            "sampling": self.model.sampling.to_dict(),
            "seed": self.model.sampling.seed,
            "constrained": self.constrained,
            "workspace": str(self.workspace),
            **self._header,
        }
        return TranscriptWriter(transcript_path(self.spec.name, self.run_id, folder), header)

    def event(self, cls: type[Any], **fields: Any) -> Any:
        """An event of this run, stamped with the time and the current step."""
        return cls(t=time.monotonic(), step=self.step, **fields)

    def next_step(self) -> None:
        """A new step number (a plan or a critique counts as a step of its own)."""
        self.step += 1

    def keep_answer(self, answer: str) -> None:
        """`answer` is the run's final answer, as given (a revision that never came)."""
        self.final, self.forced = answer, False

    def _run(self, transcript: Path | None) -> Iterator[ev.AgentEvent]:
        start = time.monotonic()
        self.cancel.deadline = start + self.spec.planning.max_seconds
        tools = tuple(t.name for t in self.registry.callable_tools())
        yield self.event(
            ev.RunStarted,
            run_id=self.run_id,
            agent=self.spec.name,
            task=self.task,
            strategy=self.spec.planning.strategy,
            model=self.model.name,
            tools=tools,
            transcript=str(transcript) if transcript else None,
        )
        reason = "error"
        try:
            # Memory is retrieved before each step (recall), never put in the system prompt:
            # a prompt prefix that stays the same keeps the model's KV cache valid.
            self.system = system_prompt(self.spec, self.registry.callable_tools())
            strategy = self.spec.planning.strategy
            if strategy == "plan_execute":
                yield from plan_execute(self)
            else:
                messages = self.opening("Final Answer")
                required = self.spec.planning.tool_choice == "required"
                yield from self.act(messages, self.budget.max_steps, first_must_call=required)
                if strategy == "reflect" and self.final is not None:
                    yield from reflect(self, messages)
            reason = "max_steps" if self.final is None or self.forced else "final_answer"
        except BudgetExceeded as exc:
            reason = exc.reason
        except Cancelled:
            reason = self.cancel.reason()
        except WorkbenchError as exc:
            yield self.event(ev.RunError, message=str(exc), kind=type(exc).__name__)
        metrics = replace(self._metrics, wall_s=time.monotonic() - start)
        if self.hooks.after_run is not None:
            self.hooks.after_run(
                RunRecord(
                    self.run_id, self.spec.name, self.task, self.final, reason, tuple(self._record)
                )
            )
        yield self.event(
            ev.RunFinished, stop_reason=reason, final_answer=self.final, metrics=metrics
        )

    def _recall(self, messages: list[Message]) -> Generator[ev.AgentEvent, None, str]:
        """This step's retrieval (a MemoryHit event); returns the note for the prompt."""
        memory = self.spec.memory
        if not (memory.enabled and self.hooks.retrieve):
            return ""
        started = time.monotonic()
        query = recall.step_query(self.task, messages)
        found = list(self.hooks.retrieve(query, memory.top_k))[: memory.top_k]
        items, used = recall.fit(found, memory.token_budget, self.model.count_tokens)
        yield self.event(
            ev.MemoryQuery, query=query, top_k=memory.top_k, hits=len(items), started_t=started
        )
        if items:
            yield self.event(ev.MemoryHit, query=query, **recall.summary(items, used, memory))
            self._recalled += [item.text for item in items if item.text not in self._recalled]
        return memory_section(items)

    def opening(self, final_label: str) -> list[Message]:
        """Worked examples, then the task."""
        p = self.spec.planning
        shown = shots.chosen(self.spec.examples, self.task, p.examples, p.max_examples)
        messages = example_messages(shown, final_label)
        messages.append({"role": "user", "content": self.task})
        return messages

    # ------------------------------------------------------------------ generation
    def generate(
        self, messages: list[Message], grammar: Grammar | None, phase: str
    ) -> Generator[ev.AgentEvent, None, str]:
        """One model generation; returns its text. Raises BudgetExceeded at a limit."""
        self.cancel.raise_if_done()
        max_new = min(self.spec.model.max_step_tokens, self.budget.tokens_left)
        if max_new <= 0:
            raise BudgetExceeded("max_tokens")
        note = (yield from self._recall(messages)) if phase in ("step", "plan") else ""
        requested = time.monotonic()  # after retrieval: its own span is MemoryQuery
        shown = recall.with_note(messages, note)
        prompt = self.model.render([{"role": "system", "content": self.system}, *shown])
        finished: GenerationFinished | None = None
        stream = self.model.generate(
            prompt,
            grammar=grammar if self.constrained else None,
            max_new_tokens=max_new,
            cancel=self.cancel,
        )
        for item in stream:
            if isinstance(item, LLMTokenDelta):
                if item.text:
                    yield ev.TokenDelta(item.t, self.step, item.text, phase)
            elif isinstance(item, GenerationFinished):
                finished = item
        if finished is None:
            raise WorkbenchError("the model ended a generation without a finish event")
        self._account(finished)
        yield self._timed(finished, phase, requested)
        if finished.stop_reason == "cancelled":
            raise BudgetExceeded(self.cancel.reason())
        return finished.text

    def _timed(
        self, finished: GenerationFinished, phase: str, requested: float
    ) -> ev.GenerationTimed:
        return ev.GenerationTimed(
            t=finished.t,
            step=self.step,
            phase=phase,
            stop_reason=finished.stop_reason,
            requested_t=min(requested, finished.stats.t_start),
            stats=finished.stats,
        )

    def _account(self, finished: GenerationFinished) -> None:
        s, m = finished.stats, self._metrics
        self.budget.tokens += s.new_tokens
        self._metrics = replace(
            m,
            prompt_tokens=m.prompt_tokens + s.prompt_tokens,
            generated_tokens=m.generated_tokens + s.new_tokens,
            model_s=m.model_s + (s.t_end - s.t_start),
            ttft_ms=(*m.ttft_ms, s.ttft_ms),
            decode_tok_s=(*m.decode_tok_s, s.decode_tok_s) if s.new_tokens > 1 else m.decode_tok_s,
        )

    # ------------------------------------------------------------------ acting
    def act(
        self,
        messages: list[Message],
        max_steps: int,
        *,
        final_label: str = "Final Answer",
        first_must_call: bool = False,
        tools_allowed: bool = True,
    ) -> Generator[ev.AgentEvent, None, str | None]:
        """Steps until an answer (returned; None when the steps ran out)."""
        tools = self.registry.callable_tools() if tools_allowed else []
        for i in range(max_steps):
            if self.budget.steps_left <= 0:
                raise BudgetExceeded("max_steps")
            last = i == max_steps - 1 or self.budget.steps_left == 1
            allow_tool = bool(tools) and not last
            retry = allow_tool and 0 < self._errors <= self.spec.planning.retries_after_error
            allow_final = not (first_must_call and i == 0 and allow_tool) and not retry
            self.budget.steps += 1
            self.next_step()
            # A grounded answer's grammar costs ~5x a free one per token (llguidance walks
            # the whole vocabulary against every quotable value). Greedy decoding under a
            # grammar writes the same tokens as without it whenever the grammar allows each
            # of them, so the step is written with a free answer first and written again
            # under the grounded grammar only when its answer breaks the form: the result
            # is the same as always constraining, at the cheap grammar's cost.
            form = self._answer_form() if allow_final else None
            lazy = (
                self.lazy_grounding
                and form is not None
                and self.model.sampling.temperature == 0
                and getattr(self.model, "exact_under_grammar", False)
            )
            final_rule = self._final_rule(final_label, form) if allow_final else None
            step = functools.partial(
                step_grammar,
                tools,
                thoughts=self.spec.planning.thoughts,
                allow_tool=allow_tool,
                allow_final=allow_final,
                final_label=final_label,
                max_tokens=min(self.spec.model.max_step_tokens, self.budget.tokens_left),
            )
            text = yield from self.generate(
                messages, step(final_rule=None if lazy else final_rule), "step"
            )
            parsed = parse_step(
                text,
                self.registry,
                allow_tool=allow_tool,
                allow_final=allow_final,
                final_label=final_label,
            )
            if lazy and parsed.kind == "final" and not form.accepts(parsed.answer):  # type: ignore[union-attr]
                m = self._metrics
                self._metrics = replace(m, regrounded=m.regrounded + 1)
                text = yield from self.generate(messages, step(final_rule=final_rule), "grounding")
                parsed = parse_step(
                    text,
                    self.registry,
                    allow_tool=allow_tool,
                    allow_final=allow_final,
                    final_label=final_label,
                )
            if parsed.kind == "final":
                self._count(valid=True)
                if final_label == "Final Answer" and self.spec.planning.answer == "vote":
                    chosen = yield from self._vote(messages, tools, parsed.answer, final_label)
                    parsed = replace(parsed, answer=chosen)
                messages.append({"role": "assistant", "content": f"{final_label}: {parsed.answer}"})
                if final_label == "Final Answer":
                    self.final = parsed.answer
                    self.forced = bool(tools) and not allow_tool
                    yield self.event(
                        ev.FinalAnswer,
                        text=parsed.answer,
                        thought=parsed.thought,
                        forced=self.forced,
                    )
                return parsed.answer
            messages.append({"role": "assistant", "content": text.strip()})
            observation = yield from self._call(parsed, text)
            messages.append({"role": "tool", "content": observation})
            if not parsed.valid and self.budget.tokens_left <= 0:
                raise BudgetExceeded("max_tokens")
        return None

    def _vote(
        self, messages: list[Message], tools: list[Tool], first: str, label: str
    ) -> Generator[ev.AgentEvent, None, str]:
        """`answer: vote`: more candidates of this final step, sampled; the majority."""
        candidates = [first]
        base = self.model.sampling
        grammar = step_grammar(
            tools,
            thoughts=self.spec.planning.thoughts,
            allow_tool=False,
            final_label=label,
            max_tokens=min(self.spec.model.max_step_tokens, self.budget.tokens_left),
            final_rule=self._final_rule(label),
        )
        try:
            for k in range(1, self.spec.planning.votes):
                if self.budget.tokens_left <= 0:
                    break
                self.model.sampling = replace(
                    base, temperature=voting.TEMPERATURE, seed=(base.seed or 0) + k
                )
                before = self._metrics.generated_tokens
                text = yield from self.generate(messages, grammar, "vote")
                m = self._metrics
                self._metrics = replace(
                    m, votes=m.votes + 1, vote_tokens=m.vote_tokens + m.generated_tokens - before
                )
                parsed = parse_step(
                    text, self.registry, allow_tool=False, allow_final=True, final_label=label
                )
                if parsed.kind == "final":
                    candidates.append(parsed.answer)
        finally:
            self.model.sampling = base
        return voting.majority(candidates)

    def _final_rule(self, label: str, form: grounding.AnswerForm | None = None) -> str | None:
        """The final answer's grammar after tool calls: it says the tool failed when the
        last call failed; with `answer: grounded` it quotes the last observation (`form`,
        when the caller already has it)."""
        if self._errors:
            return grounding.failed_rule(label, self._failed_tool or "tool")
        form = form or self._answer_form()
        return form.rule(label) if form is not None else None

    def _answer_form(self) -> grounding.AnswerForm | None:
        """What a grounded answer may be now (None: the answer is free or says the tool
        failed)."""
        if self._errors or self._observed is None:
            return None
        if self.spec.planning.answer not in ("grounded", "vote"):
            return None
        found = grounding.values(self._observed, self._observed_arguments, self._recalled)
        return grounding.answer_form(found, grounding.given(self.task), self._observed_tool)

    def _outcome(
        self, ok: bool, tool: str, observation: str, arguments: dict[str, Any] | None = None
    ) -> None:
        """Keep track of errors (for the retry policy) and of what the tools returned."""
        if self._errors:  # this call was a retry
            m = self._metrics
            self._metrics = replace(m, retries=m.retries + 1)
        if ok:
            self._errors, self._observed = 0, observation
            self._observed_arguments = dict(arguments or {})
            self._observed_tool = tool
            return
        self._errors += 1
        self._failed_tool = tool

    def _count(self, valid: bool, tool: bool = False) -> None:
        m = self._metrics
        self._metrics = replace(
            m,
            steps=m.steps + 1,
            tool_calls=m.tool_calls + int(tool),
            valid_steps=m.valid_steps + int(valid),
            invalid_steps=m.invalid_steps + int(not valid),
        )

    def _call(self, parsed: ParsedStep, text: str) -> Generator[ev.AgentEvent, None, str]:
        """Run (or refuse) the step's tool call; returns the observation text."""
        self._count(valid=parsed.valid, tool=parsed.valid)
        yield self.event(
            ev.ToolCall,
            tool=parsed.tool,
            arguments=parsed.arguments,
            thought=parsed.thought,
            valid=parsed.valid,
            problems=parsed.problems,
            text=text,
        )
        if not parsed.valid:
            known = parsed.tool in self.registry or not parsed.tool
            kind = "invalid_arguments" if known and parsed.tool else "invalid_step"
            kind = kind if known else "unknown_tool"
            message = "; ".join(parsed.problems)
            yield self.event(
                ev.ToolResult, tool=parsed.tool, ok=False, output=message, error_kind=kind
            )
            self._outcome(False, parsed.tool, message)
            return turns()["observation_error"].format(message=message)
        self.cancel.raise_if_done()
        context = ToolContext(self.workspace, self.cancel, self._settings.get(parsed.tool, {}))
        result = self.registry.call(
            parsed.tool, parsed.arguments, context=context, before_call=self.hooks.before_call
        )
        m = self._metrics
        self._metrics = replace(m, tool_s=m.tool_s + result.duration_s)
        self._record.append(result.to_json())
        yield self.event(
            ev.ToolResult,
            tool=result.tool,
            ok=result.ok,
            output=result.output,
            error_kind=result.error_kind,
            duration_s=result.duration_s,
        )
        output = result.output
        if len(output) > OBSERVATION_CHARS:
            output = output[:OBSERVATION_CHARS] + " [...]"
        if result.error_kind == "refused":
            # A person (or the agent's policy) said no: calling again is not the fix, so
            # the retry policy does not apply; the model may answer as it sees fit.
            self._errors = 0
        else:
            self._outcome(result.ok, result.tool, result.output, parsed.arguments)
        if not result.ok:
            return turns()["observation_error"].format(message=output)
        return output
