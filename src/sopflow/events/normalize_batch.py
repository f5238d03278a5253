"""Normalise a whole batch of raw events (JSON objects) at once: the fast path of HTTP ingest.

The same contract as :mod:`sopflow.events.normalize_table` for files: each column is pulled out of the
objects once per batch and checked column-wise (pyarrow/NumPy); a row that a vectorised check cannot settle
goes to :func:`~sopflow.events.normalize.normalize_event`, the per-row reference, which either accepts it
(a rarer spelling) or raises :class:`EventInvalid`. Rows keep their order, so the first bad row found is
the one the reference would name first. A property test holds this module to the reference.

Why: per event, the reference spends ~30 µs in Python (key matching, seven text checks, JSON, MD5); a
batch of 100 pays once for what can be shared, and the per-event part left is pulling values out of the
objects and writing ``properties`` (orjson where it writes exactly what :func:`json.dumps` would).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache, partial
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.headers import ANON_ID, BUILTIN_HEADERS, fold
from sopflow.events.keys import md5_digests
from sopflow.events.normalize import (
    DEFAULT_CURRENCY,
    MAX_PROPERTIES_BYTES,
    MAX_TEXT_CHARS,
    SEPARATOR,
    STRIP_CHARS,
    TEXT_FIELDS,
    EventInvalid,
    is_currency_code,
    normalize_event,
    parse_revenue,
    timestamp_us,
)
from sopflow.events.schema import ANON_ID_PROPERTY, EVENT_SCHEMA, IDENTIFY_EVENT
from sopflow.events.timecolumn import epoch_to_us_column, parse_ts_column, string_buffers
from sopflow.events.timeparse import EPOCH_SECONDS_BELOW, TS_MAX_US, TS_MIN_US

_STRING = pa.string()
_NULL_STRING = pa.scalar(None, _STRING)
_TS_TYPE = EVENT_SCHEMA.field("ts").type
_REVENUE_TYPE = EVENT_SCHEMA.field("revenue").type
_SECONDS_BELOW = min(EPOCH_SECONDS_BELOW, TS_MAX_US // 1_000_000)  # epoch seconds that are in range
_CHECKED_TEXT = (*TEXT_FIELDS, "currency", ANON_ID)  # cleaned like text: stripped, ≤ 200 chars, no controls
# Bytes a value may start or end with when it starts or ends with one of STRIP_CHARS (" \t\r\n", and
# U+3000 = E3 80 80, U+00A0 = C2 A0): a superset test that decides whether trimming is needed at all.
_STRIPPABLE_END = np.zeros(256, dtype=bool)
_STRIPPABLE_END[[0x20, 0x09, 0x0D, 0x0A, 0xE3, 0xC2, 0x80, 0xA0]] = True
_NONE = frozenset({type(None)})
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
# Floats orjson writes exactly as repr() does: Python switches to exponents outside [1e-4, 1e16).
_PLAIN_FLOAT_MIN, _PLAIN_FLOAT_MAX = 1e-4, 1e16
_EXTRA_SCALARS = frozenset({int, float, bool, dict, list})
_DICT_OR_NONE = frozenset({dict, type(None)})
_FLAT_PLAIN = frozenset({str, int, bool, float, type(None)})
_DUMPS_SORTED = partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)
_SEPARATOR_VALUE = "\x00"
_SEPARATOR_TEXT = b',"\\u0000",'  # how orjson writes the separator between two list elements

# Errors that mean "this batch is not for the fast path" (odd types, unencodable text): the reference
# then handles every row, and raises whatever it raises for them.
_DECLINED = (pa.ArrowException, UnicodeError, OverflowError, ValueError, TypeError)


@dataclass
class BatchResult:
    """Canonical rows (``EVENT_SCHEMA``, input order, bad rows left out) and each bad row's error."""

    table: pa.Table
    errors: list[tuple[int, EventInvalid]] = field(default_factory=list)
    per_row: int = 0  # rows the reference settled (for tests and profiling)


@lru_cache(maxsize=64)
def _null_column(n: int, kind: pa.DataType) -> pa.Array:
    return pa.nulls(n, kind)  # immutable, so one per size and type serves every batch


@lru_cache(maxsize=4096)
def target_of(key: str) -> str | None:
    """The canonical field a raw key feeds (see :mod:`sopflow.events.headers`), ``None`` for a property."""
    return BUILTIN_HEADERS.get(fold(key))


def normalize_batch(
    raws: Sequence[Mapping[str, Any]],
    *,
    tz: tzinfo,
    default_ts: datetime | None = None,
    stop_at_first_error: bool = True,
) -> BatchResult:
    """The rows :func:`normalize_event` gives for ``raws``, row for row.

    With ``stop_at_first_error`` the rows after the first bad one are not looked at by the reference (an
    HTTP request is all-or-nothing); otherwise every bad row's error is listed, in input order.
    """
    n = len(raws)
    if n == 0:
        return BatchResult(EVENT_SCHEMA.empty_table())
    plan = _plan(raws)
    if plan is not None:
        try:
            table, odd = _fast(raws, plan, tz=tz, default_ts=default_ts)
        except _DECLINED:
            pass
        else:
            if not odd.any():
                return BatchResult(table)
            return _with_reference_rows(
                raws, table, odd, tz=tz, default_ts=default_ts, stop=stop_at_first_error
            )
    everything = np.ones(n, dtype=bool)
    return _with_reference_rows(
        raws, EVENT_SCHEMA.empty_table(), everything, tz=tz, default_ts=default_ts, stop=stop_at_first_error
    )


@dataclass(frozen=True)
class _Plan:
    fields: dict[str, str]  # canonical field -> the one raw key that feeds it in this batch
    given_properties: str | None
    extras: list[tuple[str, str]]  # (property name, raw key)


def _plan(raws: Sequence[Mapping[str, Any]]) -> _Plan | None:
    """Which raw key feeds which field, when that is the same for every row (else ``None``: per row).

    Two keys feeding one field (``user_id`` and ``distinct_id``) need the reference's first-non-empty rule,
    and property names equal once stripped need its last-wins rule: both rare, both left to the reference.
    """
    try:
        names = frozenset().union(*raws)
    except TypeError:
        return None
    try:
        return _plan_of(names)  # one SDK sends the same keys batch after batch
    except TypeError:  # a key that cannot be hashed with the others: not from JSON
        return None


@lru_cache(maxsize=256)
def _plan_of(names: frozenset[Any]) -> _Plan | None:
    fields: dict[str, str] = {}
    given: str | None = None
    extras: dict[str, str] = {}
    for name in names:
        if type(name) is not str:
            return None
        target = target_of(name)
        if target == "properties":
            if given is not None:
                return None
            given = name
        elif target is None:
            stripped = name.strip()
            if stripped in extras:
                return None
            extras[stripped] = name
        elif target in fields:
            return None
        else:
            fields[target] = name
    return _Plan(fields, given, sorted(extras.items()))


def _columns(raws: Sequence[Mapping[str, Any]], keys: list[str]) -> dict[str, Sequence[Any]]:
    """Each key's value in every row (``None`` where missing), pulled out in C loops where possible."""
    if not keys:
        return {}
    if set(map(type, raws)) == {dict}:  # plain dicts: [] and get() agree on present keys
        try:
            if len(keys) == 1:
                return {keys[0]: list(map(itemgetter(keys[0]), raws))}
            return dict(zip(keys, zip(*map(itemgetter(*keys), raws), strict=True), strict=True))
        except KeyError:  # some row lacks some key
            pass
    return {key: [raw.get(key) for raw in raws] for key in keys}


def _fast(
    raws: Sequence[Mapping[str, Any]], plan: _Plan, *, tz: tzinfo, default_ts: datetime | None
) -> tuple[pa.Table, np.ndarray]:
    """The canonical table of every row and the mask of rows it could not settle (their values are junk)."""
    n = len(raws)
    wanted = [*plan.fields.values(), *(key for _name, key in plan.extras)]
    if plan.given_properties is not None:
        wanted.append(plan.given_properties)
    values = _columns(raws, wanted)

    def column(field: str) -> Sequence[Any] | None:
        key = plan.fields.get(field)
        return None if key is None else values[key]

    odd = np.zeros(n, dtype=bool)
    text, flags = _text_columns({name: column(name) for name in _CHECKED_TEXT}, n)
    odd |= flags
    odd |= _nulls(text["event"]) | _nulls(text["user_id"])
    if _may_identify(column("event")):
        text["event"] = _identify(text["event"])
    ts_us, flags = _timestamps(column("ts"), n, tz=tz, default_ts=default_ts)
    odd |= flags
    revenue, flags = _revenue(column("revenue"), n)
    odd |= flags
    currency, flags = _currency(text["currency"], revenue)
    odd |= flags
    extras: list[tuple[str, Sequence[Any] | None]] = [(name, values[key]) for name, key in plan.extras]
    if text[ANON_ID].null_count < n:
        extras.append((ANON_ID_PROPERTY, text[ANON_ID].to_pylist()))
    given = None if plan.given_properties is None else values[plan.given_properties]
    properties, flags = _properties(given, extras, n)
    odd |= flags
    columns = {name: text[name] for name in TEXT_FIELDS}
    columns["ts"] = pa.Array.from_buffers(_TS_TYPE, n, [None, pa.py_buffer(ts_us)])
    columns["revenue"] = revenue
    columns["currency"] = currency
    columns["properties"] = properties
    if odd.any():
        keep = pa.array(~odd)
        columns = {name: array.filter(keep) for name, array in columns.items()}
        ts_us = ts_us[~odd]
    columns["event_id"] = _event_ids(columns, ts_us)
    return pa.Table.from_arrays([columns[name] for name in EVENT_SCHEMA.names], schema=EVENT_SCHEMA), odd


def _nulls(array: pa.Array) -> np.ndarray:
    if array.null_count == 0:
        return np.zeros(len(array), dtype=bool)
    return np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False), dtype=bool)


def _text_columns(values: dict[str, Sequence[Any] | None], n: int) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Every text field cleaned as ``normalize._text`` does, checked in one stacked array for speed."""
    present = [name for name, column in values.items() if column is not None]
    out = {name: _null_column(n, _STRING) for name in values if name not in present}
    odd = np.zeros(n, dtype=bool)
    if not present:
        return out, odd
    stacked: list[Any] = []
    for name in present:
        stacked += values[name] or []
    array = _string_array(stacked)
    if array is None:  # numbers or other types among the values
        converted, flags = _as_text(stacked)
        odd |= flags.reshape(len(present), n).any(axis=0)
        array = pa.array(converted, _STRING)
    offsets, data = string_buffers(array)
    lengths = offsets[1:] - offsets[:-1]
    if len(data):
        starts = offsets[:-1][lengths > 0]
        ends = offsets[1:][lengths > 0] - 1
        if _STRIPPABLE_END[data[starts]].any() or _STRIPPABLE_END[data[ends]].any():
            array = pc.utf8_trim(array, characters=STRIP_CHARS)
            offsets, data = string_buffers(array)
            lengths = offsets[1:] - offsets[:-1]
    empty = lengths == 0
    if empty.any():
        array = pc.if_else(pa.array(empty), _NULL_STRING, array)
    bad = np.zeros(len(stacked), dtype=bool)
    if int(lengths.max()) > MAX_TEXT_CHARS:  # bytes ≥ characters: count characters only if needed
        bad |= np.asarray(pc.greater(pc.utf8_length(array), MAX_TEXT_CHARS).fill_null(False), dtype=bool)
    control = (data < 0x20) | (data == 0x7F)  # control characters are single bytes in UTF-8
    if control.any():
        bad[np.repeat(np.arange(len(stacked)), lengths)[control]] = True
    if bad.any():
        odd |= bad.reshape(len(present), n).any(axis=0)
    for k, name in enumerate(present):
        out[name] = array.slice(k * n, n)
    return out, odd


def _string_array(values: list[Any]) -> pa.Array | None:
    """``values`` as a string array when every one is text or ``None`` (Arrow's own type check)."""
    try:
        array = pa.array(values)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return None
    if pa.types.is_string(array.type):
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(values), _STRING)
    return None  # bytes: not text to the reference either


def _as_text(values: list[Any]) -> tuple[list[str | None], np.ndarray]:
    """Integers as their digits (as the reference writes them); any other non-text value is left to it."""
    flags = np.zeros(len(values), dtype=bool)
    converted: list[str | None] = []
    for i, value in enumerate(values):
        kind = type(value)
        if kind is str or value is None:
            converted.append(value)
        elif kind is int:
            converted.append(str(value))
        else:
            converted.append(None)
            flags[i] = True
    return converted, flags


def _may_identify(names: Sequence[Any] | None) -> bool:
    """Whether any event name of the batch may be ``identify`` (looking at each distinct name once)."""
    if names is None:
        return False
    try:
        distinct = set(names)
    except TypeError:  # unhashable values: they are left to the reference anyway
        return True
    return any(type(name) is not str or "identify" in name.lower() for name in distinct)


def _identify(event: pa.Array) -> pa.Array:
    """``identify`` in any case is spelled ``$identify``: only 8-byte values can be it, so look at those."""
    offsets, _data = string_buffers(event)
    candidates = np.flatnonzero((offsets[1:] - offsets[:-1]) == len("identify"))
    if not len(candidates):
        return event
    hits = [
        i
        for i, v in zip(candidates.tolist(), event.take(pa.array(candidates)).to_pylist(), strict=True)
        if v is not None and v.isascii() and v.lower() == "identify"
    ]
    if not hits:
        return event
    mask = np.zeros(len(event), dtype=bool)
    mask[hits] = True
    return pc.if_else(pa.array(mask), IDENTIFY_EVENT, event)


def _timestamps(
    values: Sequence[Any] | None, n: int, *, tz: tzinfo, default_ts: datetime | None
) -> tuple[np.ndarray, np.ndarray]:
    """UTC µs of each row and the rows left to the reference (as :func:`~sopflow.events.normalize.timestamp_us` reads them)."""
    if values is None:
        values = [None] * n
    kinds = set(map(type, values))
    if kinds == {int}:
        raw = np.array(values, dtype=np.int64)  # beyond int64: OverflowError, the batch goes per row
        if raw.min() >= 0 and raw.max() < _SECONDS_BELOW:  # epoch seconds, all in range: the usual case
            return raw * 1_000_000, np.zeros(n, dtype=bool)
        us = epoch_to_us_column(raw)
        return us, (raw < 0) | (us < TS_MIN_US) | (us >= TS_MAX_US)
    if kinds == {str}:
        column = pc.utf8_trim(pa.array(values, _STRING), characters=STRIP_CHARS)
        return parse_ts_column(column, tz)  # empty text is unsettled: the reference applies default_ts
    us = np.zeros(n, dtype=np.int64)
    odd = np.zeros(n, dtype=bool)
    for i, value in enumerate(values):
        try:
            us[i] = timestamp_us(value, tz=tz, row=None, default_ts=default_ts)
        except EventInvalid:
            odd[i] = True
    return us, odd


def _revenue(values: Sequence[Any] | None, n: int) -> tuple[pa.Array, np.ndarray]:
    odd = np.zeros(n, dtype=bool)
    if values is None or set(map(type, values)) <= _NONE:
        return _null_column(n, _REVENUE_TYPE), odd
    amounts = []
    for i, value in enumerate(values):
        try:
            amounts.append(parse_revenue(value, None))
        except EventInvalid:
            amounts.append(None)
            odd[i] = True
    return pa.array(amounts, _REVENUE_TYPE), odd


def _currency(currency: pa.Array, revenue: pa.Array) -> tuple[pa.Array, np.ndarray]:
    n = len(currency)
    odd = np.zeros(n, dtype=bool)
    if currency.null_count == n:
        if revenue.null_count == n:
            return currency, odd
        return pc.if_else(pc.is_valid(revenue), DEFAULT_CURRENCY, _NULL_STRING), odd
    codes = []
    for i, (code, amount) in enumerate(zip(currency.to_pylist(), revenue.to_pylist(), strict=True)):
        if code is None:
            codes.append(DEFAULT_CURRENCY if amount is not None else None)
            continue
        upper = code.upper()
        if not is_currency_code(upper):
            odd[i] = True
        codes.append(upper)
    return pa.array(codes, _STRING), odd


def _properties(
    given: Sequence[Any] | None, extras: list[tuple[str, Sequence[Any] | None]], n: int
) -> tuple[pa.Array, np.ndarray]:
    """JSON text of each row's properties, as ``normalize._properties`` writes it."""
    odd = np.zeros(n, dtype=bool)
    if given is None and not extras:
        return _null_column(n, _STRING), odd
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
    values = list(chain.from_iterable(map(dict.values, objects)))
    kinds = set(map(type, values))
    if not kinds <= _FLAT_PLAIN:
        return None  # nested objects or lists: checked one by one
    if float in kinds:
        floats = np.array([v for v in values if type(v) is float], dtype=np.float64)
        magnitude = np.abs(floats)
        if not (
            (magnitude == 0.0) | ((magnitude >= _PLAIN_FLOAT_MIN) & (magnitude < _PLAIN_FLOAT_MAX))
        ).all():
            return None
    try:
        texts: list[bytes | None] = _dump_each(given)
    except TypeError:  # keys that are not text, integers beyond 64 bits
        return None
    if len(objects) < len(given):  # no properties, or {}: no text
        texts = [text if props else None for text, props in zip(texts, given, strict=True)]
    return texts


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


def _event_ids(columns: dict[str, pa.Array], ts_us: np.ndarray) -> pa.Array:
    """Given ids, else the MD5 hex of the row's content (``normalize.content_text``)."""
    given = columns["event_id"]
    if given.null_count == 0:
        return given
    parts = [columns["event"], columns["user_id"], pa.array(ts_us, pa.int64()).cast(_STRING)]
    parts += [columns[name] for name in ("channel", "campaign", "step", "variant", "inviter_id")]
    parts += [columns["revenue"].cast(_STRING), columns["currency"], columns["properties"]]
    content = pc.binary_join_element_wise(*parts, SEPARATOR, null_handling="replace", null_replacement="")
    missing = np.flatnonzero(_nulls(given))
    if len(missing) < len(given):
        content = content.take(pa.array(missing))
    # The hex digests of all rows in one go: digests joined, hex-encoded once, cut every 32 characters.
    hex_digits = md5_digests(content.cast(pa.binary()).to_pylist()).hex().encode()
    offsets = np.arange(0, 32 * len(missing) + 1, 32, dtype=np.int32)
    derived = pa.Array.from_buffers(
        _STRING, len(missing), [None, pa.py_buffer(offsets), pa.py_buffer(hex_digits)]
    )
    if len(missing) == len(given):
        return derived
    ids = given.to_pylist()
    for i, value in zip(missing.tolist(), derived.to_pylist(), strict=True):
        ids[i] = value
    return pa.array(ids, _STRING)


def _with_reference_rows(
    raws: Sequence[Mapping[str, Any]],
    fast: pa.Table,
    odd: np.ndarray,
    *,
    tz: tzinfo,
    default_ts: datetime | None,
    stop: bool,
) -> BatchResult:
    """``fast`` (the rows not in ``odd``) merged in input order with what the reference makes of ``odd``."""
    accepted: list[dict[str, Any]] = []
    accepted_at: list[int] = []
    errors: list[tuple[int, EventInvalid]] = []
    for i in np.flatnonzero(odd).tolist():
        try:
            accepted.append(normalize_event(raws[i], tz=tz, default_ts=default_ts))
            accepted_at.append(i)
        except EventInvalid as exc:
            errors.append((i, exc))
            if stop:
                return BatchResult(EVENT_SCHEMA.empty_table(), errors, per_row=len(accepted) + 1)
    slow = pa.Table.from_pylist(accepted, schema=EVENT_SCHEMA)
    if not fast.num_rows:
        return BatchResult(slow, errors, per_row=len(accepted))
    fast_at = np.flatnonzero(~odd)
    where = np.concatenate([fast_at, np.asarray(accepted_at, dtype=np.int64)])
    table = pa.concat_tables([fast, slow]).take(pa.array(np.argsort(where, kind="stable")))
    return BatchResult(table, errors, per_row=len(accepted))
