"""A request's PostHog events mapped a field at a time: the fast path of ``/batch/`` and the other capture paths.

:func:`sopflow.web.posthog.to_canonical` maps one event at a time and stays the reference. Here each field is
pulled out of all events of a request in C loops (``itemgetter``, ``map``), times are checked as one run of
bytes and parsed by Arrow, and the result goes to :func:`~sopflow.events.normalize_batch.normalize_batch` as
:class:`~sopflow.events.normalize_batch.RawColumns`, so the per-event Python of the mapping and of key
matching is skipped. Every rule of the reference applies unchanged (see :mod:`sopflow.web.posthog`).

A batch this module does not map exactly as the reference would is declined (``None``) and the caller maps
it event by event: an event that is not an object, a missing name or ``distinct_id``, properties that are
not an object, a ``timestamp`` or ``uuid`` the reference refuses (so the error names the same event and
field), ``$create_alias``, times or clock skews beyond a few centuries (where the reference's datetime
arithmetic may overflow).

Why: mapping one event at a time cost about 4 µs of Python per event, a fifth of the server's CPU per event
on ``/batch/``; mapping a field at a time costs about a third of that (``bench/ingest_http.py`` times it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from sopflow.events.normalize import MAX_TEXT_CHARS
from sopflow.events.normalize_batch import RawColumns
from sopflow.events.timecolumn import string_buffers
from sopflow.events.timeparse import EPOCH, EPOCH_MILLIS_BELOW
from sopflow.web.errors import ApiError
from sopflow.web.posthog import (
    FALLBACKS,
    FUTURE_CUTOFF,
    PICKED,
    SECRET_PROPERTIES,
    clock_skew,
    distinct_id,
    event_uuid,
    parse_time,
)

_US = timedelta(microseconds=1)
_FUTURE_US = FUTURE_CUTOFF // _US
_NONE = type(None)
_DICT_OR_NONE = frozenset({dict, _NONE})
_TEXT_OR_NONE = frozenset({str, _NONE})
_INT_OR_NONE = frozenset({int, _NONE})
_EMPTY: dict[str, Any] = {}  # stands in for absent properties; never changed (changes go to copies)
_ALIAS = "$create_alias"
_DROPPED = (*SECRET_PROPERTIES, "distinct_id")
_SET_KEYS = ("$set", "$set_once")
_READ = ("event", "distinct_id", "uuid", "timestamp", "offset", "properties", *_SET_KEYS)
# Times the reference computes without overflow whatever the skew below: others go event by event.
_SANE_MIN_US = (datetime(1900, 1, 1, tzinfo=UTC) - EPOCH) // _US
_SANE_MAX_US = (datetime(2300, 1, 1, tzinfo=UTC) - EPOCH) // _US
_MAX_SKEW_US = 300 * 366 * 86_400 * 1_000_000
_MAX_OFFSET_MS = 10**12  # about 31 years
# The ISO 8601 spellings SDKs write, by length: (digits of the fraction, length of the zone).
# YYYY-MM-DDTHH:MM:SS, then optionally .fff or .ffffff, then optionally Z or ±HH:MM (all that
# datetime.fromisoformat reads the same way); every other spelling goes to parse_time one by one.
_ISO_SHAPES = {19: (0, 0), 20: (0, 1), 25: (0, 6), 23: (3, 0), 24: (3, 1), 29: (3, 6)}
_ISO_SHAPES |= {26: (6, 0), 27: (6, 1), 32: (6, 6)}


class _Absent:
    """A property that is not there (unlike one that is there with the value ``null``)."""


_ABSENT = _Absent()


def _get(objects: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    return list(map(dict.get, objects, repeat(key)))  # type: ignore[arg-type]


def _pull(events: Sequence[dict[str, Any]], keys: frozenset[str]) -> dict[str, Sequence[Any]]:
    """Each top-level field the mapping reads, one value per event (``None`` where missing)."""
    wanted = [key for key in _READ if key in keys]
    if len(wanted) > 1:
        try:  # every event has every key (one SDK, one shape): one pass over the events for all of them
            return dict(zip(wanted, zip(*map(itemgetter(*wanted), events), strict=True), strict=True))
        except KeyError:
            pass
    return {key: _get(events, key) for key in wanted}


def canonical_columns(events: Sequence[Any], *, now: datetime, sent_at: datetime | None) -> RawColumns | None:
    """The canonical raw events of ``events`` column-wise, as ``to_canonical`` maps each; ``None``: declined."""
    n = len(events)
    if not n or set(map(type, events)) != {dict}:
        return None
    columns = _pull(events, frozenset().union(*events))
    names = columns.get("event", [None] * n)
    try:
        distinct_names = set(names)
    except TypeError:  # a list or object as a name
        return None
    if _ALIAS in distinct_names or not all(type(name) is str and name for name in distinct_names):
        return None
    given = columns.get("properties", [None] * n)
    kinds = set(map(type, given))
    if not kinds <= _DICT_OR_NONE:
        return None
    props: Sequence[dict[str, Any]] = [p or _EMPTY for p in given] if _NONE in kinds else given
    property_keys: frozenset[str] = frozenset().union(*props)
    user_ids = _user_ids(events, props, columns.get("distinct_id"))
    ts_us = _times(columns, props, property_keys, now=now, sent_at=sent_at)
    event_ids = _event_ids(events, columns.get("uuid"))
    if user_ids is None or ts_us is None or event_ids is None:
        return None
    # Nothing below declines: the request's own objects are never changed, only copies of them.
    props, picked = _picked(columns, props, property_keys)
    fields: dict[str, Sequence[Any]] = {"event": names, "user_id": user_ids, **picked}
    if event_ids:
        fields["event_id"] = event_ids
    return RawColumns(fields=fields, ts_us=ts_us, properties=props, row=_reference_row(fields, ts_us, props))


def _reference_row(
    fields: Mapping[str, Sequence[Any]], ts_us: np.ndarray, props: Sequence[dict[str, Any]]
) -> Callable[[int], dict[str, Any]]:
    """Row ``i`` as ``canonical_batch`` maps it, for the rows ``normalize_batch`` checks one by one."""

    def row(i: int) -> dict[str, Any]:
        us = int(ts_us[i])
        raw: dict[str, Any] = {name: values[i] for name, values in fields.items()}
        raw["ts"] = us if us >= EPOCH_MILLIS_BELOW else EPOCH + timedelta(microseconds=us)
        raw["properties"] = props[i]
        return raw

    return row


def _user_ids(
    events: Sequence[Any], props: Sequence[dict[str, Any]], ids: Sequence[Any] | None
) -> Sequence[Any] | None:
    if (
        ids is not None
        and set(map(type, ids)) == {str}
        and "" not in ids
        and max(map(len, ids)) <= MAX_TEXT_CHARS
    ):
        return ids  # the usual case: text as it is
    found = list(map(distinct_id, events, props))
    return None if None in found else found


def _event_ids(events: Sequence[Any], values: Sequence[Any] | None) -> Sequence[Any] | None:
    """Each event's ``uuid`` in canonical form (``[]``: none given); ``None`` when one is refused."""
    if values is None:
        return []
    if _canonical_uuids(values):
        return values
    try:
        return [event_uuid(event, index) for index, event in enumerate(events)]
    except ApiError:
        return None


def _canonical_uuids(values: Sequence[Any]) -> bool:
    """Whether every value is text already written as ``str(uuid.UUID(value))`` writes it."""
    try:
        joined = "".join(values).encode()
    except TypeError:  # not all text
        return False
    if set(map(len, values)) != {36}:
        return False
    return joined.translate(_UUID_BYTES) == _UUID_SHAPE * len(values)  # more bytes than characters: no


_UUID_BYTES = bytes(
    ord("x") if chr(b) in "0123456789abcdef" else b if b == ord("-") else 0 for b in range(256)
)
_UUID_SHAPE = b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"


def _times(
    columns: Mapping[str, Sequence[Any]],
    props: Sequence[dict[str, Any]],
    property_keys: frozenset[str],
    *,
    now: datetime,
    sent_at: datetime | None,
) -> np.ndarray | None:
    """UTC µs of each event by the reference's rules (``posthog._event_time``); ``None``: declined."""
    n = len(props)
    now_us = (now - EPOCH) // _US
    ts: np.ndarray | None = None  # None: every event at the time received
    if "timestamp" in columns:
        parsed = _timestamps(columns["timestamp"])
        if parsed is None:
            return None
        us, given = parsed
        skew = clock_skew(sent_at, now)
        if skew:
            skew_us = skew // _US
            if abs(skew_us) > _MAX_SKEW_US:
                return None
            if "$ignore_sent_at" in property_keys:
                ignored = np.array([bool(p.get("$ignore_sent_at")) for p in props], dtype=bool)
                us = us - np.where(ignored, 0, skew_us)
            else:
                us = us - skew_us
        ts = us if given is None else np.where(given, us, now_us)
    if "offset" in columns:
        offsets = _offsets(columns["offset"], now=now, now_us=now_us)
        if offsets is None:
            return None
        ts = np.where(offsets[1], offsets[0], now_us if ts is None else ts)
    if ts is None:
        return np.full(n, now_us, dtype=np.int64)
    late = ts > now_us + _FUTURE_US
    return np.where(late, now_us, ts) if late.any() else ts


def _timestamps(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray | None] | None:
    """UTC µs of each given timestamp and the mask of those given (``None`` or ``""``: not given; the mask
    is ``None`` when every one is)."""
    uniform = _uniform_iso(values)
    if uniform is not None:
        return uniform, None
    n = len(values)
    us = np.zeros(n, dtype=np.int64)
    settled = np.zeros(n, dtype=bool)
    if set(map(type, values)) <= _TEXT_OR_NONE:
        us, settled = _general_iso(values)
    given = np.ones(n, dtype=bool)
    for i in np.flatnonzero(~settled).tolist():
        value = values[i]
        if value in (None, ""):
            given[i] = False
            continue
        moment = parse_time(value)
        if moment is None:
            return None  # the reference names this event and its timestamp
        micros = (moment - EPOCH) // _US
        if not _SANE_MIN_US <= micros < _SANE_MAX_US:
            return None
        us[i] = micros
    return us, given


def iso_us(values: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """UTC µs of the values spelled as SDKs write ISO 8601 (``_ISO_SHAPES``) and the mask of those values.

    Exactly what :func:`sopflow.web.posthog.parse_time` reads them as (naive means UTC), for years 1900–2299.
    The bytes are checked against the shape of their length (byte ranges per position), then Arrow's ISO 8601
    parser converts them (and refuses impossible dates such as February 30, which then go to ``parse_time``).
    """
    uniform = _uniform_iso(values)
    if uniform is not None:
        return uniform, np.ones(len(values), dtype=bool)
    return _general_iso(values)


def _general_iso(values: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`iso_us` of values of several lengths (or some ``None``), a length at a time."""
    n = len(values)
    us = np.zeros(n, dtype=np.int64)
    settled = np.zeros(n, dtype=bool)
    array = pa.array(values, pa.string())
    offsets, data = string_buffers(array)
    lengths = offsets[1:] - offsets[:-1]
    first = int(lengths[0])
    same = array.null_count == 0 and bool((lengths == first).all())
    for length in [first] if same else set(lengths.tolist()):
        shape = _ISO_TABLES.get(length)
        if shape is None:
            continue
        low, span, separator, sign, zoned, _pattern = shape
        if same:
            rows = np.arange(n)
            chars = data.reshape(n, length)  # a view: every value has this length
        else:
            rows = np.flatnonzero(lengths == length)
            chars = data[offsets[rows][:, None] + np.arange(length)]
        good = ((chars - low) <= span).all(axis=1)  # bytes wrap around: below ``low`` is large
        good &= (chars[:, separator] == ord("T")) | (chars[:, separator] == ord(" "))
        if sign is not None:
            good &= chars[:, sign] != ord(",")  # between "+" and "-"
        rows = rows[good]
        if not len(rows):
            continue
        micros = _arrow_iso(array if len(rows) == n else array.take(pa.array(rows)), zoned)
        if micros is None:
            continue
        sane = (micros >= _SANE_MIN_US) & (micros < _SANE_MAX_US)
        us[rows[sane]] = micros[sane]
        settled[rows[sane]] = True
    return us, settled


def _uniform_iso(values: Sequence[Any]) -> np.ndarray | None:
    """:func:`iso_us` of the usual batch, every value text of one shape, checked as one run of bytes."""
    first = values[0]
    shape = _ISO_TABLES.get(len(first)) if type(first) is str else None
    if shape is None:
        return None
    try:
        joined = "".join(values).encode()
    except TypeError:  # not all text
        return None
    n, pattern = len(values), shape[5]
    if set(map(len, values)) != {len(pattern)}:
        return None
    if len(joined) != n * len(pattern) or joined.translate(_ISO_BYTES) != pattern * n:
        return None  # some value has other characters (or more bytes than characters)
    offsets = np.arange(0, len(joined) + 1, len(pattern), dtype=np.int32)
    array = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(joined)])
    micros = _arrow_iso(array, shape[4])
    if micros is None or micros.min() < _SANE_MIN_US or micros.max() >= _SANE_MAX_US:
        return None
    return micros


def _arrow_iso(texts: pa.Array, zoned: bool) -> np.ndarray | None:
    """UTC µs of ISO 8601 texts of a checked shape (Arrow's parser); ``None`` if one is no real moment."""
    try:
        parsed = texts.cast(_UTC_US if zoned else _NAIVE_US)
    except pa.ArrowInvalid:  # February 30, an offset of 24 hours…: parse_time says which
        return None
    return np.asarray(parsed.view(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _iso_table(fraction: int, zone: int) -> tuple[np.ndarray, np.ndarray, int, int | None, bool, bytes]:
    """One shape as byte ranges per position: (lowest byte, highest − lowest, where "T" or " " stands, where
    the zone's sign stands, whether it has a zone; the ranges are exact but at those two positions), and
    the shape as ``_ISO_BYTES`` translates a value of it."""
    layout = "dddd-dd-dd dd:dd:dd" + ("." + "d" * fraction if fraction else "")
    layout += {0: "", 1: "Z", 6: "+dd:dd"}[zone]
    ranges = {"d": ("0", "9"), " ": (" ", "T"), "+": ("+", "-")}
    low = np.array([ord(ranges.get(kind, (kind, kind))[0]) for kind in layout], dtype=np.uint8)
    high = np.array([ord(ranges.get(kind, (kind, kind))[1]) for kind in layout], dtype=np.uint8)
    sign = layout.index("+") if "+" in layout else None
    pattern = layout.replace(" ", "T").replace("+", "-").encode()
    return low, high - low, layout.index(" "), sign, zone > 0, pattern


_ISO_TABLES = {length: _iso_table(*shape) for length, shape in _ISO_SHAPES.items()}


def _iso_bytes() -> bytes:
    """The ``bytes.translate`` table that turns a value into its shape: digits become "d", "T" and " " become
    "T", "+" and "-" become "-", the other characters of a shape stay themselves, anything else becomes 0."""
    table = bytearray(256)
    for char in b"-:.TZ":
        table[char] = char
    for digit in b"0123456789":
        table[digit] = ord("d")
    table[ord(" ")], table[ord("+")] = ord("T"), ord("-")
    return bytes(table)


_ISO_BYTES = _iso_bytes()
_UTC_US = pa.timestamp("us", tz="UTC")
_NAIVE_US = pa.timestamp("us")


def _offsets(values: Sequence[Any], *, now: datetime, now_us: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``now - offset`` in UTC µs where ``offset`` is a number of milliseconds, and the mask of those."""
    n = len(values)
    if set(map(type, values)) <= _INT_OR_NONE:
        try:
            array = pa.array(values, pa.int64())
        except (pa.ArrowException, OverflowError):
            return None
        millis = np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        if (np.abs(millis) > _MAX_OFFSET_MS).any():
            return None
        given = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return now_us - millis * 1000, given
    us = np.zeros(n, dtype=np.int64)
    given = np.zeros(n, dtype=bool)
    for i, value in enumerate(values):
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not abs(value) <= _MAX_OFFSET_MS:  # NaN too
                return None
            us[i] = (now - timedelta(milliseconds=value) - EPOCH) // _US
            given[i] = True
    return us, given


def _picked(
    top: Mapping[str, Sequence[Any]], props: Sequence[dict[str, Any]], property_keys: frozenset[str]
) -> tuple[Sequence[dict[str, Any]], dict[str, list[Any]]]:
    """Properties as the reference leaves them (secrets out, top-level ``$set`` merged in, columns moved
    out), and the columns taken from them (``channel``, ``campaign``…)."""
    n = len(props)
    set_keys = [key for key in _SET_KEYS if key in top]
    dropped = [key for key in _DROPPED if key in property_keys]
    moved = [column for column in PICKED if column in property_keys]
    taken: dict[str, list[Any]] = {}
    if set_keys or dropped or moved:
        props = list(map(dict.copy, props))
        for key in dropped:
            list(map(dict.pop, props, repeat(key), repeat(None)))
        for key in set_keys:
            for own, value in zip(props, top[key], strict=True):
                if isinstance(value, dict):
                    earlier = own.get(key)
                    own[key] = {**earlier, **value} if isinstance(earlier, dict) else dict(value)
        for column in moved:
            taken[column] = list(map(dict.pop, props, repeat(column), repeat(_ABSENT)))
    for column, source in FALLBACKS.items():
        if source in property_keys:
            values = taken.get(column, [_ABSENT] * n)
            sources = _get(props, source)
            taken[column] = [
                fallback if value is _ABSENT and fallback not in (None, "") else value
                for value, fallback in zip(values, sources, strict=True)
            ]
    for column, values in taken.items():
        if _ABSENT in values:
            taken[column] = [None if value is _ABSENT else value for value in values]
    return props, taken
