"""Bounded YAML: the one loader for every YAML file a stranger can hand us.

An agent file (and later team and suite files) may come from anyone, so reading one must
cost little whatever it holds. Three limits are checked while the file is read, each
before the work it guards:

- size: a file over `Limits.max_bytes` is refused before a byte of it is parsed;
- aliases: YAML aliases (`*name`) share one node, and code that walks the loaded data
  (validation, a save, the window's form) copies it once per use, so ten aliases of ten
  aliases of ... is a "billion laughs" that fits in 2 KB. The composer counts each alias
  and the nodes it brings in (measured once per anchored node) and stops at the first
  alias over the budget, before anything is expanded; an alias inside its own anchor (a
  loop) is refused outright;
- nesting: collections deeper than `Limits.max_depth` are refused (a deep `[[[[...` would
  otherwise end in a RecursionError).

Everything else wrong with the text (bad syntax, a duplicate key, an integer of 5,000
digits, the 30th of February) is one `YamlError` naming the file and, where known, the line.
Loading is round-trip (ruamel.yaml): key order and comments are kept for a later save.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import WorkbenchError


class YamlError(WorkbenchError):
    """A YAML file is too big, abuses aliases, nests too deep or is not valid YAML."""


@dataclass(frozen=True)
class Limits:
    """What one YAML file may cost. The defaults fit any hand-written agent, team or suite
    file many times over (the largest built-in template is ~2 KB, nests 6 deep and uses no
    alias) while keeping the worst case to milliseconds and a few MB: 10,000 nodes brought
    in by aliases is about the size of a 1 MB file written out by hand."""

    max_bytes: int = 1_000_000
    max_aliases: int = 100  # uses of `*name` in one file
    max_alias_nodes: int = 10_000  # nodes those uses bring in, counted as if copied
    max_depth: int = 32  # nested mappings and lists
    kind: str = "YAML files"  # what the limits are for, in words ("agent files")


def _size(value: int) -> str:
    return f"{value / 1_000_000:.1f} MB" if value >= 100_000 else f"{value:,} bytes"


class _BoundedYAML(YAML):
    """A round-trip YAML whose composer enforces `limits` (ruamel hands the composer its
    YAML object as `loader`)."""

    def __init__(self, limits: Limits, source: str) -> None:
        super().__init__()  # round-trip: keeps order and comments
        self.preserve_quotes = True  # and the quoting style a person chose
        self.limits = limits
        self.source = source
        self.Composer = _BoundedComposer


class _BoundedComposer(Composer):
    """ruamel's composer, counting aliases and the nodes they bring in, and nesting."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self.warn_double_anchors = False  # YAML allows an anchor name to be defined again
        self.limits: Limits = loader.limits
        self.source: str = loader.source
        self.aliases = 0
        self.alias_nodes = 0
        self.nesting = 0
        self.open_anchors: set[Any] = set()  # anchors of collections still being composed
        self.measured: dict[int, tuple[int, int]] = {}  # id(node) -> its `_measure`

    def _refuse(self, line: int, what: str) -> YamlError:
        return YamlError(f"{self.source}, line {line}: {what}")

    def _too_deep(self, line: int) -> YamlError:
        depth = self.limits.max_depth
        return self._refuse(
            line,
            f"nested more than {depth} levels deep; {self.limits.kind} may nest at most {depth}",
        )

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        line = event.start_mark.line + 1
        limits = self.limits
        if isinstance(event, AliasEvent):
            if event.anchor in self.open_anchors:
                raise self._refuse(
                    line, f"the alias *{event.anchor} is used inside its own anchor (a loop)"
                )
            node = super().compose_node(parent, index)  # the anchored node, not a copy
            size, height = self._measure(node)
            self.aliases += 1
            self.alias_nodes += size
            if self.aliases > limits.max_aliases or self.alias_nodes > limits.max_alias_nodes:
                raise self._refuse(
                    line,
                    f"too many YAML aliases ({self.aliases} so far, bringing in "
                    f"{self.alias_nodes:,} nodes); {limits.kind} may use at most "
                    f"{limits.max_aliases} aliases bringing in at most "
                    f"{limits.max_alias_nodes:,} nodes: write the repeated parts out",
                )
            if self.nesting + height > limits.max_depth:
                raise self._too_deep(line)
            return node
        collection = isinstance(event, (SequenceStartEvent, MappingStartEvent))
        if collection:
            self.nesting += 1
            if self.nesting > limits.max_depth:
                raise self._too_deep(line)
        anchor = event.anchor if collection else None
        if anchor is not None:
            self.open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            if anchor is not None:
                self.open_anchors.discard(anchor)
            if collection:
                self.nesting -= 1

    def _measure(self, node: Node) -> tuple[int, int]:
        """(nodes, nesting) of `node` with every alias in it expanded. Each node is measured
        once (a complete anchored node never changes), so all the measuring of a file costs
        one walk of what was written, however often it is aliased."""
        known = self.measured.get(id(node))
        if known is not None:
            return known
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes = [self._measure(child) for child in children]
        height = 0 if isinstance(node, ScalarNode) else 1 + max((h for _, h in sizes), default=0)
        result = (1 + sum(n for n, _ in sizes), height)
        self.measured[id(node)] = result
        return result


def _line(exc: YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f", line {mark.line + 1}" if mark is not None else ""


def load(text: str, source: str = "YAML text", limits: Limits = Limits()) -> Any:
    """The round-trip document in `text` (ruamel's CommentedMap/Seq keep order and
    comments); raises `YamlError` naming `source` and the line when it breaks a limit or
    is not valid YAML."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlError(_too_big(source, size, limits))
    yaml = _BoundedYAML(limits, source)
    try:
        return yaml.load(text)
    except YAMLError as exc:
        raise YamlError(f"{source}{_line(exc)} is not valid YAML: {exc}") from exc
    except (ValueError, OverflowError) as exc:  # a scalar the constructor cannot convert
        raise YamlError(f"{source}: a value cannot be read: {exc}") from exc


def _too_big(source: str, size: int, limits: Limits) -> str:
    return (
        f"{source} is {_size(size)}; {limits.kind} may be at most {_size(limits.max_bytes)} "
        "(is it the right file?)"
    )


def read_text(path: Path | str, limits: Limits = Limits()) -> str:
    """The text of a YAML file, refused (`YamlError`) when it is not a regular file, is
    larger than `limits.max_bytes` (checked before reading, and again while reading in
    case it grows) or is not UTF-8."""
    path = Path(path)
    try:
        info = path.stat()  # before opening: opening a FIFO would wait for a writer
        if not stat.S_ISREG(info.st_mode):
            raise YamlError(f"{path} is not a regular file")
        if info.st_size > limits.max_bytes:
            raise YamlError(_too_big(str(path), info.st_size, limits))
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)  # in case it grew since
    except OSError as exc:
        raise YamlError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limits.max_bytes:
        raise YamlError(_too_big(str(path), len(data), limits))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc


def load_file(path: Path | str, limits: Limits = Limits()) -> tuple[str, Any]:
    """`(text, document)` of a YAML file, with every limit of `load` and `read_text`."""
    text = read_text(path, limits)
    return text, load(text, str(path), limits)
