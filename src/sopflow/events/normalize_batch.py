"""Normalise a whole batch of raw events (JSON objects) at once: the fast path of HTTP ingest.

The same contract as :mod:`sopflow.events.normalize_table` for files: each column is pulled out of the
objects once per batch and checked column-wise (pyarrow/NumPy); a row that a vectorised check cannot settle
goes to :func:`~sopflow.events.normalize.normalize_event`, the per-row reference, which either accepts it
(a rarer spelling) or raises :class:`EventInvalid`. Rows keep their order, so the first bad row found is
the one the reference would name first. A property test holds this module to the reference. A producer
that has split its events into columns already (the PostHog mapper, :mod:`sopflow.web.posthog_batch`)
hands over :class:`RawColumns` instead of objects, and key matching is skipped. Properties are written
by :mod:`sopflow.events.properties_text`.

Why: per event, the reference spends ~30 µs in Python (key matching, seven text checks, JSON, MD5); a
batch of 100 pays once for what can be shared, and the per-event part left is pulling values out of the
objects and writing ``properties`` (orjson where it writes exactly what :func:`json.dumps` would).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache, partial
from operator import itemgetter
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.headers import ANON_ID, BUILTIN_HEADERS, fold
from sopflow.events.keys import md5_digests
from sopflow.events.normalize import (
    DEFAULT_CURRENCY,
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
from sopflow.events.properties_text import dumps_properties, null_column, properties_column
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

__all__ = ["BatchResult", "RawColumns", "dumps_properties", "normalize_batch", "target_of"]

# Errors that mean "this batch is not for the fast path" (odd types, unencodable text): the reference
# then handles every row, and raises whatever it raises for them.
_DECLINED = (pa.ArrowException, UnicodeError, OverflowError, ValueError, TypeError)


@dataclass
class BatchResult:
    """Canonical rows (``EVENT_SCHEMA``, input order, bad rows left out) and each bad row's error."""

    table: pa.Table
    errors: list[tuple[int, EventInvalid]] = field(default_factory=list)
    per_row: int = 0  # rows the reference settled (for tests and profiling)


@lru_cache(maxsize=4096)
def target_of(key: str) -> str | None:
    """The canonical field a raw key feeds (see :mod:`sopflow.events.headers`), ``None`` for a property."""
    return BUILTIN_HEADERS.get(fold(key))


class RawColumns(Sequence[Mapping[str, Any]]):
    """A batch of raw events that its producer has already split into canonical columns.

    A producer that knows its keys (the PostHog mapper) pulls each field out of its own objects column-wise,
    so the key matching of raw objects is skipped: ``fields`` maps canonical field names (the text fields,
    ``revenue``, ``currency``) to one value per row (``None``: missing), ``ts_us`` holds each row's time in
    UTC microseconds, ``properties`` each row's properties object (or ``None``). Indexing gives row ``i`` as
    a raw event that the per-row reference reads to the same values (``row``): only rows the column checks
    cannot settle are asked for.
    """

    def __init__(
        self,
        *,
        fields: Mapping[str, Sequence[Any]],
        ts_us: np.ndarray,
        properties: Sequence[Any] | None,
        row: Callable[[int], Mapping[str, Any]],
    ) -> None:
        self.fields = fields
        self.ts_us = ts_us
        self.properties = properties
        self.row = row

    def __len__(self) -> int:
        return len(self.ts_us)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Mapping[str, Any] | Sequence[Mapping[str, Any]]:
        if isinstance(index, slice):
            return [self.row(i) for i in range(len(self))[index]]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self.row(index % len(self))

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return map(self.row, range(len(self)))


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
    ``raws`` may be :class:`RawColumns`, already split into columns.
    """
    n = len(raws)
    if n == 0:
        return BatchResult(EVENT_SCHEMA.empty_table())
    attempt: Callable[[], tuple[pa.Table, np.ndarray]] | None = None
    if isinstance(raws, RawColumns):
        attempt = partial(_fast_columns, raws)
    else:
        plan = _plan(raws)
        if plan is not None:
            attempt = partial(_fast, raws, plan, tz=tz, default_ts=default_ts)
    if attempt is not None:
        try:
            table, odd = attempt()
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
    fields = {name: values[key] for name, key in plan.fields.items()}
    timestamps = _timestamps(fields.get("ts"), n, tz=tz, default_ts=default_ts)
    extras: list[tuple[str, Sequence[Any] | None]] = [(name, values[key]) for name, key in plan.extras]
    given = None if plan.given_properties is None else values[plan.given_properties]
    return _settle(fields, timestamps, given, extras, n)


def _fast_columns(raws: RawColumns) -> tuple[pa.Table, np.ndarray]:
    """:func:`_fast` of a batch its producer has split into columns already."""
    ts_us = np.ascontiguousarray(raws.ts_us, dtype=np.int64)
    out_of_range = (ts_us < TS_MIN_US) | (ts_us >= TS_MAX_US)
    return _settle(raws.fields, (ts_us, out_of_range), raws.properties, [], len(ts_us))


def _settle(
    fields: Mapping[str, Sequence[Any]],
    timestamps: tuple[np.ndarray, np.ndarray],
    given: Sequence[Any] | None,
    extras: list[tuple[str, Sequence[Any] | None]],
    n: int,
) -> tuple[pa.Table, np.ndarray]:
    """The canonical table of columns pulled out of the raw events (``fields`` by canonical name)."""
    odd = np.zeros(n, dtype=bool)
    text, flags = _text_columns({name: fields.get(name) for name in _CHECKED_TEXT}, n)
    odd |= flags
    odd |= _nulls(text["event"]) | _nulls(text["user_id"])
    if _may_identify(fields.get("event")):
        text["event"] = _identify(text["event"])
    ts_us, flags = timestamps
    odd |= flags
    revenue, flags = _revenue(fields.get("revenue"), n)
    odd |= flags
    currency, flags = _currency(text["currency"], revenue)
    odd |= flags
    if text[ANON_ID].null_count < n:
        extras = [*extras, (ANON_ID_PROPERTY, text[ANON_ID].to_pylist())]
    properties, flags = properties_column(given, extras, n)
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
    out = {name: null_column(n, _STRING) for name in values if name not in present}
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
        return null_column(n, _REVENUE_TYPE), odd
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
