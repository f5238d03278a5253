"""Where each part of a YAML document is, so every problem can name ``file:line:col``.

The ruamel round-trip loader keeps line/column marks on mappings and sequences; this walks them once
and converts the document into plain Python values for validation.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import re
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.scalarbool import ScalarBoolean

Path = tuple[str | int, ...]
MAX_DEPTH = 64
# Aliases can expand a small file into a huge document ("billion laughs"); a playbook is far smaller.
MAX_NODES = 50_000


class TooDeep(ValueError):
    pass


class TooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class PositionIndex:
    keys: dict[Path, Mark] = field(default_factory=dict)
    values: dict[Path, Mark] = field(default_factory=dict)

    def value(self, path: Path) -> Mark:
        """The value at ``path``, or the nearest enclosing part that has a mark."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.values:
                return self.values[prefix]
            if prefix in self.keys:
                return self.keys[prefix]
        return Mark(1, 1)

    def key(self, path: Path) -> Mark:
        return self.keys.get(path) or self.value(path)


# The line breaks YAML counts (ruamel's marks use the same rule), unlike str.splitlines' longer list.
_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


class SourceLines:
    """Convert between character offsets in the source text and 1-based line/column marks."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]
        self.lines = _BREAK.split(text)

    def mark(self, offset: int) -> Mark:
        line = bisect.bisect_right(self.starts, offset) - 1
        return Mark(line + 1, offset - self.starts[line] + 1)

    def offset(self, mark: Mark) -> int | None:
        if not 1 <= mark.line <= len(self.starts):
            return None
        return self.starts[mark.line - 1] + mark.col - 1


def _mark(pair: Any) -> Mark:
    line, col = pair
    return Mark(int(line) + 1, int(col) + 1)


def to_plain(node: Any, index: PositionIndex) -> Any:
    """Plain dicts/lists/scalars from a ruamel document, recording marks into ``index`` on the way.

    Raises :class:`TooDeep` or :class:`TooLarge` for documents no playbook can be.
    """
    return _Converter(index).convert(node, (), 0)


class _Converter:
    def __init__(self, index: PositionIndex) -> None:
        self.index = index
        self.nodes = 0

    def convert(self, node: Any, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise TooDeep(path)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise TooLarge(path)
        if isinstance(node, CommentedMap):
            return self.mapping(node, path, depth)
        if isinstance(node, CommentedSeq):
            return self.sequence(node, path, depth)
        if isinstance(node, dict):
            return {_key_text(k): self.convert(v, (*path, _key_text(k)), depth + 1) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [self.convert(v, (*path, i), depth + 1) for i, v in enumerate(node)]
        if isinstance(node, Set):
            # `!!set {a, b}`: its members are what a person means, and a set is never a valid field value.
            return [self.convert(v, (*path, i), depth + 1) for i, v in enumerate(node)]
        return _scalar(node)

    def mapping(self, node: CommentedMap, path: Path, depth: int) -> dict[str, Any]:
        if path == ():
            self.index.values[()] = Mark(node.lc.line + 1, node.lc.col + 1)
        out: dict[str, Any] = {}
        for key in node:
            name = _key_text(key)
            child: Path = (*path, name)
            # Keys from a merge (`<<: *base`) have no marks of their own here.
            with contextlib.suppress(KeyError, TypeError, IndexError):
                self.index.keys[child] = _mark(node.lc.key(key))
                self.index.values[child] = _mark(node.lc.value(key))
            out[name] = self.convert(node[key], child, depth + 1)
        return out

    def sequence(self, node: CommentedSeq, path: Path, depth: int) -> list[Any]:
        if path == ():
            self.index.values[()] = Mark(node.lc.line + 1, node.lc.col + 1)
        items = []
        for i, item in enumerate(node):
            child: Path = (*path, i)
            with contextlib.suppress(KeyError, TypeError, IndexError):
                self.index.values[child] = _mark(node.lc.item(i))
            items.append(self.convert(item, child, depth + 1))
        return items


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    value = _scalar(key)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, ScalarBoolean):  # an anchored `&x true` is an int subclass in ruamel
        return bool(value)
    if isinstance(value, TaggedScalar):  # an unknown `!tag value`: the value as written
        return str(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
