"""SessionHolder: the window's model session has the CLI's threading options."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui.sessions import SessionHolder


def _spinning(holder: SessionHolder, model: Path) -> str:
    session = holder.load(str(model))
    options = session.session.get_session_options()
    return options.get_session_config_entry("session.intra_op.allow_spinning")


@pytest.mark.parametrize(("env", "expected"), [(None, "1"), ("1", "1"), ("0", "0")])
def test_spinning_follows_the_cli_unless_turned_off(
    tiny_int4: Path, monkeypatch: pytest.MonkeyPatch, env: str | None, expected: str
) -> None:
    if env is None:
        monkeypatch.delenv("AGENT_WORKBENCH_GUI_SPIN", raising=False)
    else:
        monkeypatch.setenv("AGENT_WORKBENCH_GUI_SPIN", env)
    holder = SessionHolder()
    assert holder.spinning is (expected == "1")
    assert _spinning(holder, tiny_int4) == expected
