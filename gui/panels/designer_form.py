"""The designer's form pages: Agent, Tools, Planning & memory, Model, Examples."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QTabWidget, QVBoxLayout, QWidget

from engine.agent.agentfile import schema
from engine.agent.spec import STRATEGIES
from gui.agent_model import AgentModel
from gui.widgets.fields import (
    BoolField,
    ChoiceField,
    Field,
    MultiChoiceField,
    NumberField,
    TextField,
)
from gui.widgets.json_edit import JsonField

PROVIDERS = ("auto", "cpu", "cuda", "dml")
REMEMBER = ("history", "tool_results", "reflections", "documents")


def prepared_models() -> list[str]:
    """Names of the prepared chat models in the data home."""
    from engine.manifest import list_models

    return [m.name for m in list_models() if m.kind == "causal-lm"]


def examples_schema() -> dict[str, Any]:
    return {"$defs": schema()["$defs"], "type": "array", "items": {"$ref": "#/$defs/example"}}


class FormPages(QTabWidget):
    def __init__(
        self,
        model: AgentModel,
        persona: Field,
        goals: Field,
        tools: QWidget,
        servers: QWidget,
    ) -> None:
        super().__init__()
        self.model = model
        self.fields: list[Field] = []
        m = model
        agent = self._page(
            "Agent",
            [
                ("name", TextField(m, ("name",), "shown in the prompt's Goals section")),
                ("description", TextField(m, ("description",), "one line", optional=True)),
                ("workspace", TextField(m, ("workspace",), "folder, relative to the file")),
            ],
        )
        agent.addRow(QLabel("persona"))
        agent.addRow(persona.widget)
        agent.addRow(QLabel("goals (drag to reorder)"))
        agent.addRow(goals.widget)
        page = QWidget()
        box = QVBoxLayout(page)
        for title, widget in (("Tools", tools), ("MCP servers", servers)):
            group = QGroupBox(title)
            QVBoxLayout(group).addWidget(widget)
            box.addWidget(group, 2 if title == "Tools" else 1)
        self.addTab(page, "Tools")
        self._page(
            "Planning && memory",
            [
                ("strategy", ChoiceField(m, ("planning", "strategy"), STRATEGIES)),
                ("max steps", NumberField(m, ("planning", "max_steps"), int, "1-100")),
                ("max tokens", NumberField(m, ("planning", "max_tokens"), int, "16-1000000")),
                ("max seconds", NumberField(m, ("planning", "max_seconds"), float, "> 0")),
                ("tool choice", ChoiceField(m, ("planning", "tool_choice"), ["auto", "required"])),
                ("", BoolField(m, ("planning", "thoughts"), "thoughts before each action")),
                ("max plan steps", NumberField(m, ("planning", "max_plan_steps"), int, "1-9")),
                ("answer", ChoiceField(m, ("planning", "answer"), ["free", "grounded", "vote"])),
                ("votes", NumberField(m, ("planning", "votes"), int, "2-15")),
                (
                    "retries after error",
                    NumberField(m, ("planning", "retries_after_error"), int, "0-10"),
                ),
                ("examples shown", ChoiceField(m, ("planning", "examples"), ["all", "similar"])),
                ("max examples", NumberField(m, ("planning", "max_examples"), int, "1-20")),
                ("", BoolField(m, ("memory", "enabled"), "long-term memory on")),
                ("memory top-k", NumberField(m, ("memory", "top_k"), int, "1-50")),
                ("remember", MultiChoiceField(m, ("memory", "remember"), REMEMBER)),
                ("memory tokens", NumberField(m, ("memory", "token_budget"), int, "16-8192")),
                (
                    "min relevance",
                    NumberField(m, ("memory", "min_relevance"), float, "-1..1 (cosine)"),
                ),
                (
                    "scratchpad",
                    ChoiceField(m, ("memory", "scratchpad"), ["drop", "summarize", "keep"]),
                ),
            ],
        )
        sampling = ("model", "sampling")
        self.model_name = ChoiceField(m, ("model", "name"), prepared_models(), edit=True)
        self._page(
            "Model",
            [
                ("prepared model", self.model_name),
                ("provider", ChoiceField(m, ("model", "provider"), PROVIDERS)),
                ("max step tokens", NumberField(m, ("model", "max_step_tokens"), int, "16-8192")),
                (
                    "temperature",
                    NumberField(m, (*sampling, "temperature"), float, "0 = greedy", True),
                ),
                ("top-k", NumberField(m, (*sampling, "top_k"), int, "0 = off", True)),
                ("top-p", NumberField(m, (*sampling, "top_p"), float, "(0, 1]", True)),
                ("min-p", NumberField(m, (*sampling, "min_p"), float, "[0, 1]", True)),
                (
                    "repetition penalty",
                    NumberField(m, (*sampling, "repetition_penalty"), float, "1 = off", True),
                ),
                ("seed", NumberField(m, (*sampling, "seed"), int, "none", True)),
            ],
        )
        examples = JsonField(
            m,
            ("examples",),
            instance_schema=examples_schema(),
            allow_empty=True,
            empty=[],
            hint='[{"task": "...", "steps": [...], "answer": "..."}]',
        )
        examples.widget.setMinimumHeight(420)
        self._page("Examples", [("worked examples (JSON)", examples)])

    def refresh_models(self) -> None:
        """List the prepared chat models again (one may have been prepared meanwhile)."""
        combo = self.model_name.combo
        combo.blockSignals(True)
        text = combo.currentText()
        combo.clear()
        combo.addItems(prepared_models())
        combo.setCurrentText(text)
        combo.blockSignals(False)

    def _page(self, title: str, rows: list[tuple[str, Field]]) -> QFormLayout:
        page = QWidget()
        outer = QVBoxLayout(page)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)  # rows keep their natural height
        for label, field in rows:
            form.addRow(label, field.widget) if label else form.addRow(field.widget)
            self.fields.append(field)
        self.addTab(page, title)
        return form
