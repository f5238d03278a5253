"""The batch path of HTTP ingest gives exactly the rows (and the first error) of the per-event reference."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sopflow.events.normalize_batch as batch_module
from sopflow.events.normalize import EventInvalid, normalize_event
from sopflow.events.normalize_batch import dumps_properties, normalize_batch
from sopflow.events.schema import EVENT_SCHEMA

TZ = ZoneInfo("Europe/Berlin")  # daylight saving: wall-clock conversion is exercised

_text = st.text(alphabet=st.sampled_from(list('ab u1"\\\t\u3000\xa0中文\x01\x7f')), max_size=6)
_ids = st.one_of(
    st.none(),
    st.sampled_from(["", "e-1", "e-2", " e-3 ", "0123456789abcdef0123456789abcdef"]),
    st.integers(-5, 10**20),
    _text,
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_timestamps = st.one_of(
    st.none(),
    st.integers(min_value=-10, max_value=10**19),
    st.sampled_from([1709600733, 1709600733123, 1709600733.5, True, "", " 1709600733 "]),
    st.datetimes(min_value=datetime(1969, 12, 31), max_value=datetime(2100, 1, 2)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.sampled_from(["2024-03-05T09:05:33+08:00", "2024/3/5 9:05", "2024-02-30 10:00", "yesterday"]),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)),
)
# One spelling per field in a batch (as one SDK sends), so that most batches can take the fast path.
_SPELLINGS = [
    ("event_id", "uuid"),
    ("event",),
    ("user_id", "distinct_id"),
    ("ts", "timestamp"),
    ("channel",),
    ("campaign",),
    ("step",),
    ("variant",),
    ("inviter_id",),
    ("revenue",),
    ("currency",),
    ("anon_id",),
    ("properties",),
    ("note", " note "),
    ("商品",),
    ("$set",),
]


def _value_for(key: str) -> st.SearchStrategy[Any]:
    if key in ("ts", "timestamp"):
        return _timestamps
    if key in ("event_id", "uuid", "user_id", "distinct_id", "anon_id"):
        return _ids
    if key == "event":
        return st.sampled_from(["visit", "pay", "identify", "IDENTIFY", " 付费 ", "", "a\tb", "e" * 201])
    if key == "revenue":
        return st.one_of(
            st.none(),
            st.sampled_from(["99.5", "1,299.00", "¥5", "12元", "", "-0"]),
            st.integers(),
            st.floats(),
        )
    if key == "currency":
        return st.sampled_from([None, "", "cny", "USD", "ǆǆǆ", "usd1", 5])
    if key == "properties":
        return st.one_of(
            st.none(),
            st.dictionaries(st.text(max_size=3), _json_values, max_size=3),
            st.sampled_from(['{"a": 1}', "{}", "[1]", "", 7, [1]]),
        )
    return st.one_of(_json_values, _text)


@st.composite
def raw_batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A batch of events; mostly one spelling per field and valid values, sometimes anything goes."""
    mixed = draw(st.integers(0, 4)) == 0
    spelling = {names[0]: draw(st.sampled_from(names)) for names in _SPELLINGS}
    chosen = draw(st.lists(st.sampled_from([n[0] for n in _SPELLINGS]), max_size=8, unique=True))
    events = []
    for _ in range(draw(st.integers(1, 10))):
        event: dict[str, Any] = {}
        for field in chosen:
            key = (
                draw(st.sampled_from(next(n for n in _SPELLINGS if n[0] == field)))
                if mixed
                else spelling[field]
            )
            if draw(st.integers(0, 3)) or mixed:
                event[key] = draw(_value_for(key))
        if draw(st.integers(0, 4)):  # mostly events with a name, a user and a time
            event.setdefault(spelling["event"], draw(st.sampled_from(["visit", "pay", "identify"])))
            event.setdefault(spelling["user_id"], draw(st.sampled_from(["u1", "u2", 42, " u3 "])))
            event.setdefault(spelling["ts"], 1709600733 + draw(st.integers(0, 10**6)))
        events.append(event)
    return events


def _reference(raws: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    rows, errors = [], []
    for index, raw in enumerate(raws):
        try:
            rows.append(normalize_event(raw, tz=TZ))
        except EventInvalid as exc:
            errors.append((index, exc.field, exc.reason_code))
    return rows, errors


def _same_rows(table: pa.Table, rows: list[dict[str, Any]]) -> None:
    expected = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
    assert table.schema.equals(EVENT_SCHEMA)
    assert table.to_pylist() == expected.to_pylist()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_batches())
def test_batch_matches_reference_row_for_row(raws: list[dict[str, Any]]) -> None:
    try:
        rows, errors = _reference(raws)
    except (UnicodeError, pa.ArrowException, OverflowError):
        return  # the reference itself fails (lone surrogates…): not a case the fast path must mirror
    result = normalize_batch(raws, tz=TZ, stop_at_first_error=False)
    assert [(i, e.field, e.reason_code) for i, e in result.errors] == errors
    _same_rows(result.table, rows)
    first = normalize_batch(raws, tz=TZ)
    assert [(i, e.field) for i, e in first.errors] == [(i, f) for i, f, _r in errors[:1]]


def test_sdk_shaped_batch_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_reference(*args: object, **kwargs: object) -> None:
        raise AssertionError("the per-event reference was used")

    raws = [
        {
            "event": ("view", "identify", "pay")[i % 3],
            "distinct_id": f"u{i}" if i % 2 else i,
            "timestamp": 1741136733 + i,
            "channel": " moments ",
            "revenue": "1,299.50" if i % 3 == 2 else None,
            "anon_id": "dev-1" if i % 3 == 1 else None,
            "page": "/course/42",
            "properties": {"i": i, "f": 0.5, "中": ["文", None, True]},
        }
        for i in range(100)
    ]
    expected, _ = _reference(raws)
    monkeypatch.setattr(batch_module, "normalize_event", no_reference)
    result = normalize_batch(raws, tz=TZ)
    assert result.per_row == 0 and not result.errors
    _same_rows(result.table, expected)
    first = result.table.slice(1, 1).to_pylist()[0]
    assert first["event"] == "$identify" and first["user_id"] == "u1" and first["channel"] == "moments"
    assert json.loads(first["properties"])["$anon_distinct_id"] == "dev-1"


def test_first_bad_event_is_reported_with_its_field() -> None:
    raws: list[dict[str, Any]] = [
        {"event": "a", "user_id": "u", "ts": 1709600733},
        {"event": "a", "user_id": "u", "ts": "2024-02-30 10:00"},
        {"event": "", "user_id": "u", "ts": 1709600733},
    ]
    result = normalize_batch(raws, tz=TZ)
    assert [(i, e.field, e.reason_code) for i, e in result.errors] == [(1, "ts", "bad_date")]


def test_mixed_spellings_and_odd_values_keep_input_order() -> None:
    raws: list[dict[str, Any]] = [
        {"event": "a", "user_id": "u1", "ts": 1709600733},
        {"event": "b", "distinct_id": "u2", "timestamp": "2024-03-05 09:05:33"},  # two keys per field
        {"event": "c", "user_id": 3.0, "ts": 1709600733.25, "revenue": Decimal("1.5")},
        {"event": "d", "user_id": "u4", "ts": datetime(2024, 3, 5, tzinfo=UTC) + timedelta(hours=1)},
    ]
    result = normalize_batch(raws, tz=TZ)
    assert [r["event"] for r in result.table.to_pylist()] == ["a", "b", "c", "d"]
    _same_rows(result.table, _reference(raws)[0])


@given(_json_values)
def test_properties_are_written_as_json_dumps_writes_them(value: Any) -> None:
    props = {"k": value}
    expected = json.dumps(props, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert dumps_properties(props).decode() == expected


@pytest.mark.parametrize(
    "value", [1e16, 1.5e-5, 1e-4, 9999999999999998.0, math.pi, -0.0, 2**64, -(2**63) - 1]
)
def test_float_and_big_integer_edges_match_json(value: float) -> None:
    expected = json.dumps({"v": value}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert dumps_properties({"v": value}).decode() == expected


def test_properties_holding_the_internal_separator_are_written_exactly() -> None:
    raws: list[dict[str, Any]] = [
        {
            "event": "a",
            "user_id": "u",
            "ts": 1709600733,
            "properties": {"l": ["x", "\x00", "y"], "s": "\x00"},
        },
        {"event": "b", "user_id": "u", "ts": 1709600733, "properties": {"k": "v"}},
        {"event": "c", "user_id": "u", "ts": 1709600733, "properties": {}},
    ]
    result = normalize_batch(raws, tz=TZ)
    assert result.per_row == 0
    _same_rows(result.table, _reference(raws)[0])
