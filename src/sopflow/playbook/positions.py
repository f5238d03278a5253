"""Where each part of a YAML document is, so every problem can name ``file:line:col``.

The ruamel round-trip loader keeps line/column marks on mappings and sequences; this walks them once
and converts the document into plain Python values for validation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

Path = tuple[str | int, ...]
MAX_DEPTH = 64


class TooDeep(ValueError):
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


def _mark(pair: Any) -> Mark:
    line, col = pair
    return Mark(int(line) + 1, int(col) + 1)


def to_plain(node: Any, index: PositionIndex, path: Path = (), depth: int = 0) -> Any:
    """Plain dicts/lists/scalars from a ruamel document, recording marks into ``index`` on the way."""
    if depth > MAX_DEPTH:
        raise TooDeep(path)
    if isinstance(node, CommentedMap):
        if path == ():
            index.values[()] = Mark(node.lc.line + 1, node.lc.col + 1)
        out: dict[str, Any] = {}
        for key in node:
            name = _key_text(key)
            child: Path = (*path, name)
            try:
                index.keys[child] = _mark(node.lc.key(key))
                index.values[child] = _mark(node.lc.value(key))
            except (KeyError, TypeError, IndexError):
                pass
            out[name] = to_plain(node[key], index, child, depth + 1)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, item in enumerate(node):
            child = (*path, i)
            with contextlib.suppress(KeyError, TypeError, IndexError):
                index.values[child] = _mark(node.lc.item(i))
            items.append(to_plain(item, index, child, depth + 1))
        return items
    if isinstance(node, dict):
        return {_key_text(k): to_plain(v, index, (*path, _key_text(k)), depth + 1) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [to_plain(v, index, (*path, i), depth + 1) for i, v in enumerate(node)]
    return _scalar(node)


def _key_text(key: Any) -> str:
    return key if isinstance(key, str) else str(_scalar(key))


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
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
