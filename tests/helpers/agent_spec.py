"""An agent spec for loop tests, with the planning settings a test names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.agent.spec import AgentSpec, PlanningSpec


def make_spec(**planning: Any) -> AgentSpec:
    """The agent `Tester` with one goal; `planning` overrides PlanningSpec's fields."""
    spec = AgentSpec(name="Tester", goals=("Answer the question.",))
    return replace(spec, planning=replace(PlanningSpec(), **planning))
