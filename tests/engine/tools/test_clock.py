"""The clock tells the time in the agent's zone, or the one the model asks for."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.tools.base import ToolContext, ToolError
from engine.tools.clock import SPEC, now


def test_now_in_a_named_zone() -> None:
    before = datetime.now(UTC)
    data = now("UTC", None)
    moment = datetime.fromisoformat(data["iso"])
    assert abs((moment - before).total_seconds()) < 5
    assert data["utc_offset"] == "+0000" and data["timezone"] == "UTC"
    assert data["weekday"] == moment.strftime("%A")
    tokyo = now("Asia/Tokyo", None)
    assert tokyo["utc_offset"] == "+0900"


def test_settings_default_zone_and_unknown_zone(ctx: ToolContext, workspace: Path) -> None:
    tool = SPEC.factory({"timezone": "America/New_York"}, workspace)
    data = tool.function()
    assert data["timezone"] == "America/New_York" and data["utc_offset"] in ("-0500", "-0400")
    assert tool.function(timezone="Europe/Berlin")["timezone"] == "Europe/Berlin"
    with pytest.raises(ToolError, match="unknown time zone 'Mars/Olympus'"):
        tool.function(timezone="Mars/Olympus")
    local = SPEC.factory({}, workspace).function()
    assert datetime.fromisoformat(local["iso"]).tzinfo is not None
