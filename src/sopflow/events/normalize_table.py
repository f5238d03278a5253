"""Normalise a whole Arrow table of raw rows at once: the fast path of ``sopflow events import``.

Every rule of :mod:`sopflow.events.normalize` is applied column-wise with pyarrow/NumPy (DuckDB for
the MD5 of derived ids). A row that any vectorised check cannot settle is not rejected here: it goes
to :func:`~sopflow.events.normalize.normalize_parts`, the per-row reference, which either accepts it
(a rarer spelling) or names the field and reason. So the fast path only ever needs to be right on
what it accepts, and a property test compares it with the reference on generated rows.

Input columns are already named by target (see :func:`~sopflow.events.headers.resolve_columns`):
canonical fields, ``anon_id``, or any other name, which becomes a ``properties`` key.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from sopflow.events.headers import ANON_ID, TARGETS
from sopflow.events.native.content import content_md5
from sopflow.events.normalize import (
    CONTROL_PATTERN,
    DEFAULT_CURRENCY,
    MAX_PROPERTIES_BYTES,
    MAX_REVENUE_INT_DIGITS,
    MAX_TEXT_CHARS,
    SEPARATOR,
    STRIP_CHARS,
    TEXT_FIELDS,
    EventInvalid,
    normalize_parts,
)
from sopflow.events.schema import ANON_ID_PROPERTY, EVENT_SCHEMA, IDENTIFY_EVENT
from sopflow.events.timecolumn import parse_ts_column, string_buffers

_STRING = pa.string()
_NULL_STRING = pa.scalar(None, _STRING)
_REVENUE_TYPE = pa.decimal128(18, 4)
_MONEY_PATTERN = rf"^-?[0-9]{{1,{MAX_REVENUE_INT_DIGITS}}}(\.[0-9]{{1,4}})?$"


@dataclass(frozen=True)
class Reject:
    """A row that failed validation: ``row`` as the user counts it, the canonical ``field``, why, and the value."""

    row: int
    field: str
    reason: str
    value: str


@dataclass
class NormalizedChunk:
    table: pa.Table
    rejects: list[Reject]
    fallback_rows: int = 0
    keys: np.ndarray | None = None  # dedupe keys of ``table``, when computed off the writer's thread
    user_digests: tuple[np.ndarray, np.ndarray] | None = None  # the same for its user ids


def normalize_table(raw: pa.Table, *, tz: tzinfo, rows: np.ndarray) -> NormalizedChunk:
    """Canonical rows of ``raw`` (``EVENT_SCHEMA``) and the rejected rows; ``rows`` numbers each input row."""
    n = raw.num_rows
    bad = np.zeros(n, dtype=bool)
    text: dict[str, pa.Array] = {}
    for name in (*TEXT_FIELDS, "currency", ANON_ID):
        text[name], flags = _clean_text(_column(raw, name))
        bad |= flags
    bad |= ~_valid(text["event"]) | ~_valid(text["user_id"])
    identify = pc.fill_null(pc.equal(pc.ascii_lower(text["event"]), "identify"), False)
    text["event"] = pc.if_else(identify, IDENTIFY_EVENT, text["event"])
    ts_column = _column(raw, "ts")
    if pa.types.is_string(ts_column.type) or pa.types.is_large_string(ts_column.type):
        ts_column = pc.utf8_trim(ts_column.cast(_STRING), characters=STRIP_CHARS)
    ts_us, flags = parse_ts_column(ts_column, tz)
    bad |= flags
    revenue, flags = _revenue(_column(raw, "revenue"))
    bad |= flags
    currency, flags = _currency(text["currency"], revenue)
    bad |= flags
    properties, flags = _properties(raw, text[ANON_ID])
    bad |= flags
    good = ~bad
    mask = pa.array(good)
    columns: dict[str, pa.Array] = {name: text[name].filter(mask) for name in TEXT_FIELDS}
    columns["ts"] = pa.array(ts_us[good], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    columns["revenue"] = revenue.filter(mask)
    columns["currency"] = currency.filter(mask)
    columns["properties"] = properties.filter(mask)
    columns["event_id"] = _event_ids(columns, ts_us[good])
    fast = pa.table([columns[name] for name in EVENT_SCHEMA.names], schema=EVENT_SCHEMA)
    slow, rejects = _per_row(raw, np.flatnonzero(bad), tz=tz, rows=rows)
    table = pa.concat_tables([fast, slow]) if slow.num_rows else fast
    return NormalizedChunk(table, rejects, fallback_rows=int(bad.sum()))


def _column(raw: pa.Table, name: str) -> pa.Array:
    if name not in raw.column_names:
        return pa.nulls(raw.num_rows, _STRING)
    column = raw[name]
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _valid(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.is_valid(array).to_numpy(zero_copy_only=False), dtype=bool)


def _as_text(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Strings (or integers as digits) stay; any other type goes to the per-row path."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array, kind = array.cast(kind.value_type), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
        return array.cast(_STRING), np.zeros(len(array), dtype=bool)
    if pa.types.is_null(kind):
        return pa.nulls(len(array), _STRING), np.zeros(len(array), dtype=bool)
    return pa.nulls(len(array), _STRING), _valid(array)


def _clean_text(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    array, bad = _as_text(array)
    if array.null_count == len(array):  # an absent column: nothing to clean
        return array, bad
    trimmed = pc.utf8_trim(array, characters=STRIP_CHARS)
    trimmed = pc.if_else(pc.equal(trimmed, ""), _NULL_STRING, trimmed)
    if _max_bytes(trimmed) > MAX_TEXT_CHARS:
        bad = bad | np.asarray(
            pc.greater(pc.utf8_length(trimmed), MAX_TEXT_CHARS).fill_null(False), dtype=bool
        )
    if _has_control_bytes(trimmed):
        bad = bad | np.asarray(
            pc.match_substring_regex(trimmed, CONTROL_PATTERN).fill_null(False), dtype=bool
        )
    return trimmed, bad


def _max_bytes(array: pa.Array) -> int:
    if len(array) == 0 or array.null_count == len(array):
        return 0
    return int(pc.max(pc.binary_length(array)).as_py() or 0)


def _data_bytes(array: pa.Array) -> np.ndarray:
    _, data = string_buffers(array)
    return data


def _has_control_bytes(array: pa.Array) -> bool:
    data = _data_bytes(array)
    return bool(((data < 0x20) | (data == 0x7F)).any())


def _revenue(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    n = len(array)
    kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(n, _REVENUE_TYPE), np.zeros(n, dtype=bool)
    if (
        pa.types.is_decimal(kind)
        and kind.scale <= 4
        and kind.precision - kind.scale <= MAX_REVENUE_INT_DIGITS
    ):
        return array.cast(_REVENUE_TYPE), np.zeros(n, dtype=bool)
    if pa.types.is_integer(kind):
        values = np.asarray(array.cast(pa.int64()).fill_null(0), dtype=np.int64)
        too_big = np.abs(values) >= 10**MAX_REVENUE_INT_DIGITS
        safe = pc.if_else(pa.array(too_big), pa.scalar(None, pa.int64()), array.cast(pa.int64()))
        return safe.cast(pa.decimal128(38, 4)).cast(_REVENUE_TYPE), too_big
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return pa.nulls(n, _REVENUE_TYPE), _valid(array)
    text = array.cast(_STRING)
    data = _data_bytes(text)
    if (data == ord(",")).any():
        text = pc.replace_substring(text, ",", "")
    if (data == 0xA5).any():  # the last byte of both ¥ (C2 A5) and ￥ (EF BF A5) in UTF-8
        text = pc.replace_substring(pc.replace_substring(text, "¥", ""), "￥", "")
    text = pc.utf8_trim(text, characters=STRIP_CHARS)
    text = pc.if_else(pc.equal(text, ""), _NULL_STRING, text)
    ok = pc.fill_null(pc.match_substring_regex(text, _MONEY_PATTERN), False)
    bad = _valid(text) & ~np.asarray(ok, dtype=bool)
    return pc.if_else(ok, text, _NULL_STRING).cast(_REVENUE_TYPE), bad


def _currency(currency: pa.Array, revenue: pa.Array) -> tuple[pa.Array, np.ndarray]:
    valid = _valid(currency)
    ascii_ok = np.asarray(pc.fill_null(pc.string_is_ascii(currency), True), dtype=bool)
    upper = pc.ascii_upper(currency)
    shape_ok = np.asarray(pc.fill_null(pc.match_substring_regex(upper, r"^[A-Z]{3}$"), True), dtype=bool)
    bad = valid & ~(ascii_ok & shape_ok)
    default = pc.if_else(pc.is_valid(revenue), DEFAULT_CURRENCY, _NULL_STRING)
    return pc.coalesce(upper, default), bad


def _properties(raw: pa.Table, anon: pa.Array) -> tuple[pa.Array, np.ndarray]:
    n = raw.num_rows
    bad = np.zeros(n, dtype=bool)
    pieces: list[pa.Array] = []
    extra_names = [name for name in raw.column_names if name not in TARGETS]
    sources = {name: _column(raw, name) for name in extra_names}
    sources[ANON_ID_PROPERTY] = anon
    for key in sorted(sources):
        piece, flags = _json_piece(key, sources[key])
        bad |= flags
        if piece is not None:
            pieces.append(piece)
    any_extra = np.zeros(n, dtype=bool)
    for piece in pieces:
        any_extra |= _valid(piece)
    if len(pieces) == 1 and pieces[0].null_count == 0:
        built = pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(pieces[0], 0, -1), "}", "")
    elif pieces:
        joined = pc.binary_join_element_wise(*[pc.fill_null(p, "") for p in pieces], "")
        built = pc.binary_join_element_wise("{", pc.utf8_rtrim(joined, characters=","), "}", "")
        built = pc.if_else(pa.array(any_extra), built, _NULL_STRING)
    else:
        built = pa.nulls(n, _STRING)
    given, given_bad, empty = _given_properties(_column(raw, "properties"))
    if empty.any():  # "{}" alone means no properties; beside other columns the per-row path merges them
        bad |= empty & any_extra
        given = pc.if_else(pa.array(empty), _NULL_STRING, given)
    bad |= given_bad | (_valid(given) & any_extra)
    result = built if given.null_count == n else pc.coalesce(given, built)
    if _max_bytes(result) > MAX_PROPERTIES_BYTES:
        bad |= np.asarray(
            pc.greater(pc.binary_length(result), MAX_PROPERTIES_BYTES).fill_null(False), dtype=bool
        )
    return result, bad


def _json_piece(key: str, array: pa.Array) -> tuple[pa.Array | None, np.ndarray]:
    """``"key":value,`` per row (null where the value is missing), as ``json.dumps`` would write it."""
    n = len(array)
    kind = array.type
    key_text = json.dumps(key, ensure_ascii=False) + ":"
    if pa.types.is_dictionary(kind):
        array, kind = array.cast(kind.value_type), kind.value_type
    if pa.types.is_null(kind) or array.null_count == n:  # no value: no piece (anon_id on most rows)
        return None, np.zeros(n, dtype=bool)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        value = array.cast(_STRING)
        if pa.types.is_boolean(kind):
            value = pc.ascii_lower(value)
        return pc.binary_join_element_wise(key_text, value, ",", ""), np.zeros(n, dtype=bool)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None, _valid(array)
    value = pc.utf8_trim(array.cast(_STRING), characters=STRIP_CHARS)
    value = pc.if_else(pc.equal(value, ""), _NULL_STRING, value)
    bad = np.zeros(n, dtype=bool)
    if _has_control_bytes(value):
        bad = np.asarray(pc.match_substring_regex(value, CONTROL_PATTERN).fill_null(False), dtype=bool)
    data = _data_bytes(value)
    if (data == ord("\\")).any():
        value = pc.replace_substring(value, "\\", "\\\\")
    if (data == ord('"')).any():
        value = pc.replace_substring(value, '"', '\\"')
    return pc.binary_join_element_wise(key_text + '"', value, '",', ""), bad


def _given_properties(array: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A ``properties`` column of JSON text: kept as written when every value is a JSON object.

    Returns the text, the rows for the per-row path, and the rows holding an empty object (``{}``).
    """
    n = len(array)
    none = np.zeros(n, dtype=bool)
    if pa.types.is_null(array.type):
        return pa.nulls(n, _STRING), none, none
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return pa.nulls(n, _STRING), _valid(array), none
    text = pc.utf8_trim(array.cast(_STRING), characters=STRIP_CHARS)
    text = pc.if_else(pc.equal(text, ""), _NULL_STRING, text)
    valid = _valid(text)
    if not valid.any():
        return text, none, none
    present = text.filter(pa.array(valid))
    if _has_control_bytes(present) or not _all_json_objects(present):
        return text, valid, none  # let the per-row path judge each value
    empty = np.asarray(pc.fill_null(pc.match_substring_regex(text, r"^\{[ \t]*\}$"), False), dtype=bool)
    return text, none, empty


def _all_json_objects(texts: pa.Array) -> bool:
    """Whether every value parses as one JSON object, by Arrow's strict parser (one object per line)."""
    data = "\n".join(texts.to_pylist()).encode() if len(texts) < 1000 else _newline_join(texts)
    try:
        table = pa_json.read_json(
            io.BytesIO(data),
            parse_options=pa_json.ParseOptions(
                explicit_schema=pa.schema([]), unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return bool(table.num_rows == len(texts))


def _newline_join(texts: pa.Array) -> bytes:
    return bytes(_data_bytes(pc.binary_join_element_wise(texts, "\n", "")).tobytes())


def _event_ids(columns: dict[str, pa.Array], ts_us: np.ndarray) -> pa.Array:
    given = columns["event_id"]
    if given.null_count == 0:
        return given
    parts = [columns["event"], columns["user_id"], pa.array(ts_us, pa.int64()).cast(_STRING)]
    parts += [columns[name] for name in ("channel", "campaign", "step", "variant", "inviter_id")]
    parts += [columns["revenue"].cast(_STRING), columns["currency"], columns["properties"]]
    derived = content_md5(parts, SEPARATOR)  # as derive_event_id, without building the joined text
    return derived if given.null_count == len(given) else pc.coalesce(given, derived)


def _per_row(
    raw: pa.Table, idx: np.ndarray, *, tz: tzinfo, rows: np.ndarray
) -> tuple[pa.Table, list[Reject]]:
    if not len(idx):
        return EVENT_SCHEMA.empty_table(), []
    accepted: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for i, record in zip(idx.tolist(), raw.take(pa.array(idx)).to_pylist(), strict=True):
        fields = {k: v for k, v in record.items() if k in TARGETS and k != "properties"}
        extras = {k: v for k, v in record.items() if k not in TARGETS}
        try:
            accepted.append(
                normalize_parts(fields, extras, record.get("properties"), tz=tz, row=int(rows[i]))
            )
        except EventInvalid as exc:
            value = record.get(exc.field)
            rejects.append(Reject(int(rows[i]), exc.field, exc.reason, "" if value is None else str(value)))
    return pa.Table.from_pylist(accepted, schema=EVENT_SCHEMA), rejects
