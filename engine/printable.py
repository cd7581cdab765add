"""Untrusted text made safe to show: control characters become visible escapes.

Tool output, model text, stored memories and file names come from strangers. On a
terminal an ESC starts a control sequence (retitle the window, clear the screen, move
the cursor, in some terminals write files), a carriage return overwrites the line, and
a bidi override (U+202E) makes the text read backwards; in a window they garble the
view. `printable` shows every such character as an escape (`\\x1b`, `\\u202e`), keeping
newlines and tabs; the text is for eyes only (`--json` output stays byte-faithful).
"""

from __future__ import annotations

#: Bidirectional formatting characters ("Trojan Source"), and the Unicode line and
#: paragraph separators some terminals treat as line breaks.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SEPARATORS = "\u2028\u2029"


def _table() -> dict[int, str]:
    table = {code: f"\\x{code:02x}" for code in range(0x20) if chr(code) not in "\t\n"}
    table.update({code: f"\\x{code:02x}" for code in range(0x7F, 0xA0)})  # DEL and C1
    table.update({ord(ch): f"\\u{ord(ch):04x}" for ch in _BIDI + _SEPARATORS})
    # Lone surrogates (text decoded with surrogateescape) cannot be written to a UTF-8
    # stream at all.
    table.update({code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)})
    return table


_ESCAPES = _table()


def printable(text: str) -> str:
    """`text` with its control characters (C0 but newline and tab, DEL, C1, bidi
    controls, line separators, lone surrogates) shown as `\\xNN` / `\\uNNNN`; a CRLF
    line end is shown as a plain newline."""
    return text.replace("\r\n", "\n").translate(_ESCAPES)
