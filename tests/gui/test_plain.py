"""gui.plain: a tooltip that shows untrusted text literally."""

from __future__ import annotations

from gui.plain import plain_tooltip


def test_markup_and_control_characters_are_shown_not_obeyed() -> None:
    tip = plain_tooltip('<img src="x">\x1b[2J & done')
    assert tip == (
        '<p style="white-space: pre-wrap">&lt;img src=&quot;x&quot;&gt;\\x1b[2J &amp; done</p>'
    )
