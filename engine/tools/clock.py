"""The clock: the current date and time, in the agent's time zone or one it asks for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.tools.base import Tool, ToolError
from engine.tools.builtin import BuiltinSpec

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "timezone": {
            "type": "string",
            "description": "IANA time zone used when the model does not ask for one "
            "(e.g. Europe/Berlin); default: this computer's local time zone",
        }
    },
    "additionalProperties": False,
}


def zone(name: str) -> tzinfo:
    """The time zone called `name`; `ToolError` naming it when there is no such zone."""
    if name.upper() == "UTC":
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(f"unknown time zone {name!r}; use an IANA name like Europe/Berlin") from exc


def now(timezone: str | None, default: tzinfo | None) -> dict[str, Any]:
    """The current moment as the model sees it."""
    tz = zone(timezone) if timezone else default
    moment = datetime.now(tz).astimezone(tz) if tz else datetime.now().astimezone()
    return {
        "iso": moment.isoformat(timespec="seconds"),
        "date": moment.date().isoformat(),
        "time": moment.strftime("%H:%M:%S"),
        "weekday": moment.strftime("%A"),
        "timezone": timezone or (str(default) if default else moment.tzname()),
        "utc_offset": moment.strftime("%z"),
    }


def _check(settings: Mapping[str, Any]) -> None:
    if settings.get("timezone"):
        zone(settings["timezone"])


def _build(settings: Mapping[str, Any], workspace: Path) -> Tool:
    default = zone(settings["timezone"]) if settings.get("timezone") else None

    def clock(timezone: str | None = None) -> dict[str, Any]:
        """The current date, time and weekday.

        Args:
            timezone: an IANA time zone such as "America/New_York"; default: the agent's own
        """
        return now(timezone, default)

    return Tool.from_function(clock, timeout_s=5.0)


SPEC = BuiltinSpec(
    name="clock",
    description="Tells the current date, time, weekday and time zone.",
    factory=_build,
    settings_schema=SETTINGS_SCHEMA,
    check=_check,
)
