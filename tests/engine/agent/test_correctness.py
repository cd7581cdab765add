"""Argument grammars, the retry policy after a tool error, and grounded final answers."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine.agent import events as ev
from engine.agent import grounding
from engine.agent.grammar import step_grammar
from engine.agent.report import summarize
from engine.agent.run import AgentRun
from engine.llm.constraints import Grammar
from engine.tools import written
from engine.tools.base import Tool, ToolRegistry
from engine.tools.calculator import EXPRESSION_PATTERN
from engine.tools.calculator import _build as build_calculator
from engine.tools.files import _build_list, _build_read
from tests.helpers.agent_spec import make_spec
from tests.helpers.fake_model import GrammarFollowingModel, ScriptedModel, call, final
from tests.helpers.grammar import accepts

DOCS = Path(__file__).resolve().parents[3] / "docs" / "tools.md"


def step(tool: str, arguments: dict[str, Any]) -> str:
    return call(tool, json.dumps(arguments, separators=(", ", ": ")))


def calculator_accepts(expression: str) -> bool:
    tool = build_calculator({}, Path("."))
    return accepts(step_grammar([tool]), step("calculator", {"expression": expression}))


def doc_expressions() -> list[str]:
    """The calculator expressions written in docs/tools.md and in the tool's docstring."""
    text = DOCS.read_text(encoding="utf-8")
    part = text[text.index("**calculator** walks") : text.index("The evaluation runs")]
    found = [e for e in re.findall(r"`([^`]+)`", part) if re.search(r"\d", e) and "\n" not in e]
    found = [e.split(" -> ")[0] for e in found if "is outside" not in e]
    return [*found, "(17 + 5) * 3 / sqrt(2)"]


@pytest.mark.parametrize(
    "expression",
    [
        "2 ** 20",
        "2^20",
        "(125 + 375) / 4",
        "15 / 100 * 240",
        "3 * 60 * 60",
        "sqrt(1764)",
        "round(100 * 5 / 9, 2)",
        "max(4, min(8, 15))",
        "-(2 + 3) * 1e3",
        "pi * 2",
    ],
)
def test_arithmetic_is_accepted(expression: str) -> None:
    assert calculator_accepts(expression)


def test_every_example_in_the_tool_docs_is_accepted() -> None:
    examples = doc_expressions()
    assert len(examples) >= 4
    for expression in examples:
        assert calculator_accepts(expression), expression


@pytest.mark.parametrize(
    "expression",
    [
        "2 to the power of 20",
        "3 hours",
        "15% of 240",
        "((1 + 2) * 3",
        "import os",
        "x + 1",
        "2 +",
        "1 << 3",
    ],
)
def test_what_the_calculator_refuses_cannot_be_written(expression: str) -> None:
    assert not calculator_accepts(expression)
    assert re.fullmatch(EXPRESSION_PATTERN[1:-1], expression) is None


def test_file_paths_are_the_workspace_s_files(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("port = 8080\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("a\n")
    read, listing = _build_read({}, tmp_path), _build_list({}, tmp_path)
    grammar = step_grammar([read, listing])
    assert accepts(grammar, step("files.read", {"path": "config.ini"}))
    assert accepts(grammar, step("files.read", {"path": "notes/a.md"}))
    assert not accepts(grammar, step("files.read", {"path": "conf.ini"}))
    assert not accepts(grammar, step("files.read", {"path": "notes"}))  # a folder
    assert accepts(grammar, step("files.list", {"path": "notes"}))
    assert not accepts(grammar, step("files.list", {"path": "config.ini"}))
    # Enumerated at step time: a file written since is offered at the next step.
    (tmp_path / "new.txt").write_text("x\n")
    assert accepts(step_grammar([read]), step("files.read", {"path": "new.txt"}))


def test_many_files_get_a_path_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(written, "MAX_ENUM_PATHS", 3)
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text("x\n")
    grammar = step_grammar([_build_read({}, tmp_path)])
    assert accepts(grammar, step("files.read", {"path": "other/f9.txt"}))
    assert not accepts(grammar, step("files.read", {"path": "/etc/passwd"}))


def test_declared_pattern_format_and_enum_of_other_tools_are_honoured() -> None:
    """A command or MCP tool's own JSON Schema keywords reach the step grammar."""

    def lookup(code: str, day: str, unit: str) -> str:
        return "ok"

    tool = Tool(
        name="lookup",
        description="look a code up",
        parameters={
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
                "day": {"type": "string", "format": "date"},
                "unit": {"enum": ["kg", "lb"]},
            },
            "required": ["code", "day", "unit"],
            "additionalProperties": False,
        },
        function=lookup,
        source="command",
    )
    grammar = step_grammar([tool])
    good = {"code": "ABC-12", "day": "2026-12-04", "unit": "kg"}
    assert accepts(grammar, step("lookup", good))
    assert not accepts(grammar, step("lookup", good | {"code": "abc-12"}))
    assert not accepts(grammar, step("lookup", good | {"day": "tomorrow"}))
    assert not accepts(grammar, step("lookup", good | {"unit": "stone"}))


# ----------------------------------------------------------------------- retry policy


def run(
    model: ScriptedModel, registry: ToolRegistry, workspace: Path, **planning: Any
) -> list[Any]:
    spec = make_spec(**planning)
    return list(AgentRun(spec, model, registry, "task", workspace=workspace, transcript=False))


def test_after_a_tool_error_the_next_step_must_call_a_tool(
    registry: ToolRegistry, workspace: Path
) -> None:
    model = GrammarFollowingModel(
        [
            call("picky", '{"text": "long"}'),
            final("I answer anyway: 5"),  # not allowed: a retry must come first
            call("add", '{"a": 2, "b": 3}'),
            final("5"),
        ]
    )
    events = run(model, registry, workspace, max_steps=6)
    calls = [e.tool for e in events if isinstance(e, ev.ToolCall)]
    assert calls[0] == "picky"
    assert len(calls) >= 2  # the step after the error was made a tool call
    assert events[-1].metrics.retries >= 1
    assert events[-1].stop_reason == "final_answer"


def test_a_retry_that_succeeds_lets_the_model_answer(
    registry: ToolRegistry, workspace: Path
) -> None:
    model = GrammarFollowingModel(
        [call("picky", '{"text": "long"}'), call("add", '{"a": 2, "b": 3}'), final("it is 5")]
    )
    events = run(model, registry, workspace, max_steps=6)
    report = summarize(events)
    assert [s.get("accepted") for s in report["steps"] if s["kind"] == "tool"] == [False, True]
    assert report["metrics"]["retries"] == 1
    assert report["final_answer"] == "it is 5"


def test_when_the_retries_run_out_the_answer_says_the_tool_failed(
    registry: ToolRegistry, workspace: Path
) -> None:
    model = GrammarFollowingModel(
        [
            call("picky", '{"text": "a"}'),
            call("picky", '{"text": "b"}'),
            final("the answer is 42"),
        ]
    )
    events = run(model, registry, workspace, max_steps=6, retries_after_error=1)
    answer = events[-1].final_answer
    assert answer.startswith("The picky tool failed:"), answer
    assert events[-1].metrics.retries == 1


def test_no_retries_when_the_agent_allows_none(registry: ToolRegistry, workspace: Path) -> None:
    model = ScriptedModel([call("picky", '{"text": "a"}'), final("it failed")])
    events = run(model, registry, workspace, retries_after_error=0)
    assert model.grammars[1] is not None and "tool failed" in model.grammars[1].text
    assert events[-1].final_answer == "it failed"


# ----------------------------------------------------------------------- grounded answers


def test_values_of_an_observation() -> None:
    assert "1048576" in grounding.values("1048576")
    found = grounding.values("[server]\nhost = 127.0.0.1\nport = 8080\n")
    assert {"8080", "127.0.0.1", "port = 8080"} <= set(found)
    assert "37.78" in grounding.values("37.77777777777778")
    listing = json.dumps([{"path": "a.md", "type": "file", "bytes": 3}])
    assert "a.md" in grounding.values(listing)


def test_a_grounded_answer_quotes_the_observation(registry: ToolRegistry, workspace: Path) -> None:
    """The model tries to contradict the tool (2 + 3 -> "125 + 375 is 1500"): the grammar
    lets no number through that the tool did not return."""
    model = GrammarFollowingModel(
        [call("add", '{"a": 2, "b": 3}'), final("2 + 3 is 1500, I am sure.")]
    )
    events = run(model, registry, workspace, answer="grounded")
    answer = events[-1].final_answer
    assert re.findall(r"\d+", answer) == ["5"], answer


def test_a_free_answer_may_contradict(registry: ToolRegistry, workspace: Path) -> None:
    model = GrammarFollowingModel(
        [call("add", '{"a": 2, "b": 3}'), final("2 + 3 is 1500, I am sure.")]
    )
    events = run(model, registry, workspace, answer="free")
    assert "1500" in events[-1].final_answer


def test_grounded_quotes_a_line_of_a_file(workspace: Path) -> None:
    (workspace / "config.ini").write_text("[server]\nport = 8080\n")
    registry = ToolRegistry([_build_read({}, workspace)])
    model = GrammarFollowingModel(
        [
            call("files.read", '{"path": "config.ini"}'),
            final("The port is set in config.ini."),
        ]
    )
    events = run(model, registry, workspace, answer="grounded")
    assert "8080" in events[-1].final_answer or "[server]" in events[-1].final_answer


def test_the_grounded_rule_is_a_valid_grammar() -> None:
    observed = grounding.values('odd "quoted" / slashes \\ and (brackets) [x] {y} 3.5')
    text = "start: final\nfinal: " + grounding.answer_rule("Final Answer", observed)
    grammar = Grammar.lark(text)
    assert accepts(grammar, "Final Answer: it is 3.5 exactly\n")
    assert not accepts(grammar, "Final Answer: it is 4\n")


def test_an_echo_of_the_call_is_not_a_value() -> None:
    """A search that found nothing repeats the query: the query is not a found value."""
    found = grounding.values("no line contains 'host: 192.168.1.1'", {"text": "host: 192.168.1.1"})
    assert not any("192" in v for v in found), found


def test_search_text_is_words_not_a_guessed_value(tmp_path: Path) -> None:
    from engine.tools.files import _build_search

    grammar = step_grammar([_build_search({}, tmp_path)])
    assert accepts(grammar, step("files.search", {"text": "database"}))
    assert accepts(grammar, step("files.search", {"text": "apple tree"}))  # every word
    assert not accepts(grammar, step("files.search", {"text": "The tomatoes were planted"}))
    assert not accepts(grammar, step("files.search", {"text": "host: 192.168.1.1"}))


def test_after_a_search_that_found_nothing_no_number_is_made_up(workspace: Path) -> None:
    from engine.tools.files import _build_search

    (workspace / "notes.md").write_text("cabin key under the mat\n")
    registry = ToolRegistry([_build_search({}, workspace)])
    model = GrammarFollowingModel(
        [call("files.search", '{"text": "phone"}'), final("The phone number is 555-0100.")]
    )
    events = run(model, registry, workspace, answer="grounded")
    assert not re.search(r"\d", events[-1].final_answer), events[-1].final_answer


def test_a_number_of_the_query_found_in_a_longer_hit_is_a_value() -> None:
    """Searching "boat moored at pier 7" and finding "the boat is moored at pier 7." found
    the 7: it is only an echo when nothing but the query's own words came back."""
    hit = json.dumps({"hits": [{"text": "The boat is moored at pier 7.", "score": 0.8}]})
    found = grounding.values(hit, {"query": "boat moored at pier 7"})
    assert "7" in found and "The boat is moored at pier 7." in found
    echo = grounding.values("no line contains 'pier 7'", {"text": "pier 7"})
    assert "7" not in echo, echo


def test_recalled_memory_is_quotable_even_when_the_tool_only_echoed() -> None:
    """The model searched with the very words memory had already shown it: the hit is all
    echo, but the recalled memory in the prompt holds the value."""
    echo = json.dumps({"hits": [{"text": "the boat is moored at pier 7"}]})
    alone = grounding.values(echo, {"query": "the boat is moored at pier 7"})
    assert "7" not in alone
    recalled = ["Task: Remember this: the boat is moored at pier 7."]
    assert "7" in grounding.values(echo, {"query": "the boat is moored at pier 7"}, recalled)


def test_the_task_s_numbers_may_be_repeated_around_the_value() -> None:
    rule = grounding.answer_rule("Final Answer", ["1048576"], grounding.given("What is 2 ** 20?"))
    grammar = Grammar.lark("start: final\nfinal: " + rule)
    assert accepts(grammar, "Final Answer: 2 to the power of 20 is 1048576.\n")
    assert accepts(grammar, "Final Answer: It is 1048576.\n")
    assert not accepts(grammar, "Final Answer: 2 to the power of 20 is 10.\n")  # not found
    assert not accepts(grammar, "Final Answer: 1048576 is 2 to the power of 20.\n")  # last
    assert not accepts(grammar, "Final Answer: It is 201048576.\n")  # glued to the value
    assert not accepts(grammar, "Final Answer: 3 to the power of 20 is 1048576.\n")
    nothing = Grammar.lark(
        "start: final\nfinal: "
        + grounding.answer_rule("Final Answer", [], grounding.given("Remember: pier 7."))
    )
    assert accepts(nothing, "Final Answer: The boat is at pier 7.\n")
    assert not accepts(nothing, "Final Answer: The boat is at pier 8.\n")


def test_a_grounded_run_may_quote_recalled_memory(registry: ToolRegistry, workspace: Path) -> None:
    from engine.agent.hooks import MemoryItem, RunHooks
    from engine.agent.spec import MemorySpec

    spec = replace(make_spec(answer="grounded"), memory=MemorySpec(enabled=True))
    hooks = RunHooks(retrieve=lambda query, k: [MemoryItem("The boat is moored at pier 7.")])
    model = GrammarFollowingModel(
        [call("add", '{"a": 2, "b": 3}'), final("The boat is moored at pier 7.")]
    )
    events = list(
        AgentRun(
            spec,
            model,
            registry,
            "Where is the boat?",
            workspace=workspace,
            hooks=hooks,
            transcript=False,
        )
    )
    assert events[-1].final_answer == "The boat is moored at pier 7."


def test_a_refused_call_does_not_force_retries(registry: ToolRegistry, workspace: Path) -> None:
    """A person said no: the next step may answer (a retry policy would only ask again)."""
    from engine.agent.hooks import RunHooks

    model = ScriptedModel([call("secret", '{"name": "db"}'), final("I was not allowed.")])
    events = list(
        AgentRun(
            make_spec(),
            model,
            registry,
            "task",
            workspace=workspace,
            hooks=RunHooks(before_call=lambda request: False),
            transcript=False,
        )
    )
    results = [e for e in events if isinstance(e, ev.ToolResult)]
    assert results[0].error_kind == "refused"
    assert events[-1].stop_reason == "final_answer"
    assert events[-1].final_answer == "I was not allowed."
    assert events[-1].metrics.retries == 0


def test_an_answer_may_quote_several_values() -> None:
    line = "- Flight leaves on 3 June at 09:40 from gate B12."
    found = grounding.values(json.dumps([{"path": "trip.md", "line": 3, "text": line}]))
    grammar = Grammar.lark("start: final\nfinal: " + grounding.answer_rule("Final Answer", found))
    assert accepts(grammar, "Final Answer: The flight leaves at 09:40 from gate B12.\n")
    assert accepts(grammar, "Final Answer: On 3 June at 09:40 from gate B12.\n")  # three
    assert not accepts(grammar, "Final Answer: At 09:40 from gate B13.\n")  # not found
    assert not accepts(grammar, "Final Answer: 3, 3, 3 and 3.\n")  # at most three values
