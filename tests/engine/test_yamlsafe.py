"""engine.yamlsafe: the bounded YAML loader refuses what would cost too much, clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import yamlsafe
from engine.yamlsafe import Limits, YamlError


def laughs(levels: int, width: int = 10) -> str:
    """A "billion laughs": `width` aliases of `width` aliases ... of one list (width**levels
    leaves once expanded) in a few hundred bytes."""
    lines = ["a0: &a0 [lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"top: *a{levels}")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_at_the_alias_that_breaks_the_budget() -> None:
    text = laughs(9)  # 10**9 leaves
    assert len(text) < 2048
    with pytest.raises(YamlError) as info:
        yamlsafe.load(text, "bomb.yaml", Limits(kind="agent files"))
    message = str(info.value)
    assert message.startswith("bomb.yaml, line 5: too many YAML aliases")
    assert "agent files may use at most 100 aliases bringing in at most 10,000 nodes" in message


def test_many_small_aliases_are_refused_too() -> None:
    text = "x: &x 1\nall: [" + ", ".join(["*x"] * 101) + "]\n"
    with pytest.raises(YamlError, match=r"line 2: too many YAML aliases \(101 so far"):
        yamlsafe.load(text)


def test_an_alias_of_a_big_list_counts_its_nodes() -> None:
    text = "big: &b [" + ", ".join(["1"] * 6000) + "]\nagain: *b\nthird: *b\n"
    with pytest.raises(YamlError, match=r"line 3: too many YAML aliases \(2 so far, bringing in"):
        yamlsafe.load(text)


def test_a_few_aliases_load_and_share_their_values() -> None:
    text = "base: &base {approval: ask, timeout: 5}\none: *base\ntwo: {<<: *base, timeout: 9}\n"
    data = yamlsafe.load(text)
    assert data["one"] == {"approval": "ask", "timeout": 5}
    assert data["two"]["timeout"] == 9 and data["two"]["approval"] == "ask"


def test_an_alias_inside_its_own_anchor_is_a_loop() -> None:
    with pytest.raises(YamlError, match=r"line 1: the alias \*a is used inside its own anchor"):
        yamlsafe.load("goals: &a [x, *a]\n")


@pytest.mark.parametrize(
    "text",
    [
        "deep: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "deep:\n" + "".join("  " * i + "- \n" for i in range(1, 40)),
        # 20 levels, each alias nesting the one before: shallow as written, deep as loaded
        "l0: &l0 [x]\n" + "".join(f"l{i}: &l{i} [[*l{i - 1}]]\n" for i in range(1, 20)),
    ],
    ids=["flow", "block", "through-aliases"],
)
def test_deep_nesting_is_refused(text: str) -> None:
    with pytest.raises(YamlError, match="nested more than 32 levels deep; YAML files may nest"):
        yamlsafe.load(text)


def test_text_over_the_size_limit_is_refused_before_parsing() -> None:
    text = "a: [" + "1, " * 400_000 + "]\n"  # 1.2 MB, and not even valid YAML at the end
    with pytest.raises(YamlError) as info:
        yamlsafe.load(text, "big.yaml", Limits(kind="agent files"))
    assert str(info.value) == (
        "big.yaml is 1.2 MB; agent files may be at most 1.0 MB (is it the right file?)"
    )


def test_a_file_over_the_size_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # a sparse 12 MB file: its size is known, not its bytes
        handle.truncate(12_000_000)
    with pytest.raises(YamlError, match=r"huge.yaml is 12.0 MB; YAML files may be at most 1.0 MB"):
        yamlsafe.read_text(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_named_pipe_is_not_opened(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    with pytest.raises(YamlError, match="is not a regular file"):
        yamlsafe.read_text(pipe)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n: " + "9" * 5000 + "\n", "a value cannot be read: Exceeds the limit"),
        ("when: 2024-02-30\n", "a value cannot be read: day is out of range for month"),
        ("a: 1\na: 2\n", "line 2 is not valid YAML"),
        ("a: [1\n", "is not valid YAML"),
        ("a: 1\n---\nb: 2\n", "is not valid YAML"),
    ],
)
def test_bad_text_is_one_clear_error(text: str, expected: str) -> None:
    with pytest.raises(YamlError, match=r"^x\.yaml") as info:
        yamlsafe.load(text, "x.yaml")
    assert expected in str(info.value)


def test_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(YamlError, match=r"latin.yaml is not UTF-8 text \(byte 9\)"):
        yamlsafe.read_text(path)


def test_a_reused_anchor_name_is_allowed_without_a_warning() -> None:
    # the YAML spec lets an anchor be defined again; ruamel warns by default, and the
    # test run turns warnings into errors
    assert yamlsafe.load("a: &x 1\nb: &x 2\nc: *x\n")["c"] == 2


def test_comments_and_order_are_kept() -> None:
    data = yamlsafe.load("# top\nb: 1  # the b\na: 2\n")
    assert list(data) == ["b", "a"]
    assert data.ca.items["b"][2].value.startswith("# the b")
