"""Untrusted text in widgets: shown as the characters it is, never as markup.

A QLabel (Qt::AutoText) and every tooltip render text as HTML when it merely looks like
HTML, so a tool's output `<img src=...>` or a document named `<b>x</b>` would be drawn,
not shown. Labels that show such text use Qt.PlainText; tooltips cannot, so they get the
text escaped inside a pre-wrapped paragraph. Control characters are made visible with
the engine's one rule (engine.printable).
"""

from __future__ import annotations

import html

from engine.printable import printable

__all__ = ["plain_tooltip", "printable"]


def plain_tooltip(text: str) -> str:
    """A tooltip that shows `text` literally (line breaks kept)."""
    return f'<p style="white-space: pre-wrap">{html.escape(printable(text))}</p>'
