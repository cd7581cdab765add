"""engine.printable: control characters of untrusted text shown as escapes."""

from __future__ import annotations

import pytest

from engine.printable import printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J"),  # retitle, clear screen
        ("safe\rEVIL", "safe\\x0dEVIL"),  # a carriage return would overwrite the line
        ("a\x00b\x7fc\x9bd", "a\\x00b\\x7fc\\x9bd"),  # NUL, DEL, C1 CSI
        ("abc\u202egnp.exe", "abc\\u202egnp.exe"),  # right-to-left override
        ("\u2066x\u2069 \u200f", "\\u2066x\\u2069 \\u200f"),
        ("line\u2028break", "line\\u2028break"),
        ("bad \udcff byte", "bad \\udcff byte"),  # a lone surrogate cannot even be written
    ],
)
def test_control_characters_are_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_ordinary_text_is_unchanged() -> None:
    text = "Zeile 1\n\tcafé, 東京, emoji 🙂, <b>not html</b> & \\x1b as typed\n"
    assert printable(text) == text
    assert printable("windows\r\nline ends\r\n") == "windows\nline ends\n"
