"""Each row's ``properties`` as JSON text, exactly as :func:`sopflow.events.normalize._properties` writes it.

The column-wise part of :mod:`sopflow.events.normalize_batch`: orjson writes the same bytes as
``json.dumps(..., ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` for text, integers within 64
bits, booleans, null, lists and objects with text keys, and floats whose ``repr`` has no exponent; a batch
whose values are all of those (checked a nesting level at a time, for all rows together) is written by one
orjson call, anything else row by row with :mod:`json` where needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache, partial
from itertools import chain
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from sopflow.events.normalize import MAX_PROPERTIES_BYTES, STRIP_CHARS
from sopflow.events.timecolumn import string_buffers

_STRING = pa.string()
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
# Floats orjson writes exactly as repr() does: Python switches to exponents outside [1e-4, 1e16).
_PLAIN_FLOAT_MIN, _PLAIN_FLOAT_MAX = 1e-4, 1e16
_EXTRA_SCALARS = frozenset({int, float, bool, dict, list})
_DICT_OR_NONE = frozenset({dict, type(None)})
_FLAT_PLAIN = frozenset({str, int, bool, float, type(None)})
_NESTED_PLAIN = _FLAT_PLAIN | {dict, list}
_MAX_PLAIN_DEPTH = 32
_MAX_PLAIN_VALUES = 1 << 22
_DUMPS_SORTED = partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)
_SEPARATOR_VALUE = "\x00"
_SEPARATOR_TEXT = b',"\\u0000",'  # how orjson writes the separator between two list elements


@lru_cache(maxsize=64)
def null_column(n: int, kind: pa.DataType) -> pa.Array:
    return pa.nulls(n, kind)  # immutable, so one per size and type serves every batch


def properties_column(
    given: Sequence[Any] | None, extras: list[tuple[str, Sequence[Any] | None]], n: int
) -> tuple[pa.Array, np.ndarray]:
    """JSON text of each row's properties, as ``normalize._properties`` writes it."""
    odd = np.zeros(n, dtype=bool)
    if given is None and not extras:
        return null_column(n, _STRING), odd
    texts = _plain_texts(given) if not extras else None
    if texts is None:
        texts, odd = _texts_one_by_one(given, extras, n)
    array = pa.array(texts, _STRING)
    offsets, _data = string_buffers(array)
    too_big = (offsets[1:] - offsets[:-1]) > MAX_PROPERTIES_BYTES
    return array, odd | too_big


def _plain_texts(given: Sequence[Any] | None) -> list[bytes | None] | None:
    """The common case in one pass: objects (or nothing) whose values orjson writes as json does."""
    if given is None or not set(map(type, given)) <= _DICT_OR_NONE:
        return None
    objects = [props for props in given if props]
    if not _plain_values(list(chain.from_iterable(map(dict.values, objects)))):
        return None
    try:
        texts: list[bytes | None] = _dump_each(given)
    except TypeError:  # keys that are not text, integers beyond 64 bits
        return None
    if len(objects) < len(given):  # no properties, or {}: no text
        texts = [text if props else None for text, props in zip(texts, given, strict=True)]
    return texts


def _plain_values(values: list[Any]) -> bool:
    """Whether orjson writes all ``values`` exactly as :mod:`json` does (:func:`_plain` for many values).

    Nested objects and lists (PostHog's ``$set``, SDK arrays) are looked at a level at a time, each level in
    a few C loops over all rows together rather than a recursive walk per row.
    """
    for _depth in range(_MAX_PLAIN_DEPTH):
        if not values:
            return True
        kinds = set(map(type, values))
        if not kinds <= _FLAT_PLAIN:
            if not kinds <= _NESTED_PLAIN:
                return False
            inner: list[Any] = []
            if dict in kinds:
                objects: list[dict[Any, Any]] = [value for value in values if type(value) is dict]
                inner += chain.from_iterable(map(dict.values, objects))
            if list in kinds:
                inner += chain.from_iterable([value for value in values if type(value) is list])
            values_now = [value for value in values if type(value) is float] if float in kinds else []
            if values_now and not _plain_floats(values_now):
                return False
            if len(inner) > _MAX_PLAIN_VALUES:
                return False  # only a cycle grows this large; json.dumps names it
            values = inner
            continue
        if float in kinds:
            return _plain_floats([value for value in values if type(value) is float])
        return True
    return False  # deeper than any SDK writes (or a cycle): the per-row writer decides


def _plain_floats(floats: list[float]) -> bool:
    magnitude = np.abs(np.array(floats, dtype=np.float64))
    return bool(
        ((magnitude == 0.0) | ((magnitude >= _PLAIN_FLOAT_MIN) & (magnitude < _PLAIN_FLOAT_MAX))).all()
    )


def _dump_each(objects: Sequence[Any]) -> list[bytes | None]:
    """``orjson.dumps`` of each object, sorted keys, for the price of one call: the objects are written as one
    list with a separator string between them, then cut at the separators. A separator can only appear
    inside a value as an element of a list; then there are more pieces than objects and each is dumped
    on its own."""
    n = len(objects)
    if n < 2:
        return [_DUMPS_SORTED(value) for value in objects]
    interleaved: list[Any] = [_SEPARATOR_VALUE] * (2 * n - 1)
    interleaved[::2] = objects
    pieces: list[bytes | None] = list(_DUMPS_SORTED(interleaved)[1:-1].split(_SEPARATOR_TEXT))
    return pieces if len(pieces) == n else [_DUMPS_SORTED(value) for value in objects]


def _texts_one_by_one(
    given: Sequence[Any] | None, extras: list[tuple[str, Sequence[Any] | None]], n: int
) -> tuple[list[bytes | None], np.ndarray]:
    odd = np.zeros(n, dtype=bool)
    texts: list[bytes | None] = [None] * n
    for i in range(n):
        props = given[i] if given is not None else None
        merged: Any = props
        if extras:
            cleaned = _cleaned_extras(extras, i)
            if cleaned is None:
                odd[i] = True
                continue
            if cleaned:
                if props is None:
                    merged = cleaned
                elif type(props) is dict:
                    merged = dict(props)
                    for key, value in cleaned.items():
                        merged.setdefault(key, value)
        if merged is None:
            continue
        if type(merged) is not dict:
            odd[i] = True  # JSON text or a non-object: the reference parses or rejects it
            continue
        if merged:
            texts[i] = dumps_properties(merged)
    return texts, odd


def _cleaned_extras(extras: list[tuple[str, Sequence[Any] | None]], i: int) -> dict[str, Any] | None:
    cleaned: dict[str, Any] = {}
    for key, column in extras:
        value = column[i] if column is not None else None
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            value = value.strip(STRIP_CHARS)
            if not value:
                continue
        elif kind not in _EXTRA_SCALARS:
            return None  # dates, decimals…: the reference writes them out
        cleaned[key] = value
    return cleaned


def dumps_properties(value: dict[str, Any]) -> bytes:
    """``json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` as UTF-8, fast.

    orjson writes the same bytes for text, integers, booleans, null, lists and objects with text keys, and
    for floats whose ``repr`` has no exponent; anything else is written by :mod:`json` itself.
    """
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # integers beyond 64 bits
            pass
    return _JSON.encode(value).encode()


def _plain(value: Any) -> bool:
    """Whether orjson writes ``value`` exactly as :mod:`json` does (checked without recursion for scalars)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            item_kind = type(item)
            if item_kind is str or item_kind is int or item_kind is bool or item is None:
                continue
            if not _plain(item):
                return False
        return True
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        number: float = value
        return number == 0.0 or _PLAIN_FLOAT_MIN <= abs(number) < _PLAIN_FLOAT_MAX
    if kind is list:
        return all(_plain(item) for item in value)
    return False
