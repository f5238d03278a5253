"""The vectorised file path gives exactly the rows (and rejects) of the per-row reference."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopflow.events.headers import TARGETS
from sopflow.events.normalize import EventInvalid, normalize_parts
from sopflow.events.normalize_table import normalize_table
from sopflow.events.schema import EVENT_SCHEMA

TZ = ZoneInfo("Europe/Berlin")  # has daylight saving, so wall-clock conversion is exercised
COLUMNS = ("user_id", "event", "ts", "channel", "revenue", "currency", "anon_id", "商品", "properties")

_moments = st.datetimes(min_value=datetime(1969, 12, 31), max_value=datetime(2099, 12, 31))
_noise = st.text(alphabet=" \t\u3000\xa0a0-:/.年", max_size=4)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = draw(_moments)
    style = draw(st.integers(0, 9))
    if style == 0:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style == 1:
        return f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:{moment.minute:02d}"
    if style == 2:
        spec = draw(st.sampled_from(["microseconds", "milliseconds", "seconds"]))
        return moment.isoformat(timespec=spec) + draw(st.sampled_from(["", "Z", "+08:00", "-0530", "+08"]))
    if style == 3:
        return moment.strftime("%Y-%m-%d")
    if style == 4:
        return str(int((moment - datetime(1970, 1, 1)).total_seconds() * draw(st.sampled_from([1, 1000]))))
    if style == 5:
        return f"{moment.year}年{moment.month}月{moment.day}日 {moment.hour}:{moment.minute:02d}"
    if style == 6:
        return draw(
            st.sampled_from(
                [
                    "2024-02-30 10:00:00",
                    "2023-02-29",
                    "2024-13-01",
                    "2024-01-01 24:00:00",
                    "2024-01-01 10:60",
                    "2024-01-01 10:00:00+24:00",
                    "",
                    "tomorrow",
                ]
            )
        )
    if style == 7:  # across a daylight-saving change in Berlin
        base = datetime(2024, 3, 31, 1, 30) + timedelta(minutes=draw(st.integers(0, 120)))
        return base.strftime("%Y-%m-%d %H:%M:%S")
    return draw(_noise) + moment.strftime("%Y-%m-%dT%H:%M:%S") + draw(_noise)


_text = st.text(alphabet=st.sampled_from(list('ab u1"\\\t\u3000\xa0中文\x01')), max_size=6)
_money = st.one_of(
    st.decimals(min_value=-(10**15), max_value=10**15, places=3, allow_nan=False).map(str),
    st.decimals(min_value=-1000, max_value=1000, places=6, allow_nan=False).map(str),
    st.sampled_from(["", "¥99", "1,299.00", "￥ 5", "12元", "1e3", "-0", "0.00005", "99999999999999.9999"]),
)
_json = st.one_of(
    st.dictionaries(st.text(max_size=3), st.one_of(st.integers(), st.text(max_size=3)), max_size=3).map(
        json.dumps
    ),
    st.sampled_from(["", "{}", "[1]", "{bad", '{"a":1,}', '{"a": NaN}', '{"k": "v"}']),
)


@st.composite
def raw_rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {
        "user_id": draw(st.one_of(_text, st.sampled_from(["u1", "u2", " u3 ", "用户4"]))),
        "event": draw(st.sampled_from(["visit", "signup", "identify", "IDENTIFY", " 付费 ", "", "a\x01b"])),
        "ts": draw(timestamps()),
        "channel": draw(st.one_of(st.just(""), _text)),
        "revenue": draw(_money),
        "currency": draw(st.sampled_from(["", "cny", "USD", "usd1", "ǆǆǆ", " eur "])),
        "anon_id": draw(st.sampled_from(["", "", "dev-1", "dev 2"])),
        "商品": draw(st.one_of(st.just(""), _text)),
        "properties": draw(_json),
    }
    return row


def reference(row: dict[str, Any], number: int) -> tuple[dict[str, Any] | None, tuple[int, str] | None]:
    fields = {k: v for k, v in row.items() if k in TARGETS and k != "properties"}
    extras = {k: v for k, v in row.items() if k not in TARGETS}
    try:
        return normalize_parts(fields, extras, row.get("properties"), tz=TZ, row=number), None
    except EventInvalid as exc:
        return None, (number, exc.field)


def canonical(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(str(r[c]) for c in EVENT_SCHEMA.names) for r in rows)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_rows(), min_size=1, max_size=12))
def test_vectorised_path_matches_reference(rows: list[dict[str, Any]]) -> None:
    numbers = np.arange(2, 2 + len(rows))
    table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in COLUMNS})
    result = normalize_table(table, tz=TZ, rows=numbers)
    expected = [reference(r, int(n)) for r, n in zip(rows, numbers, strict=True)]
    assert canonical(result.table.to_pylist()) == canonical([e for e, _ in expected if e is not None])
    assert sorted((r.row, r.field) for r in result.rejects) == sorted(x for _, x in expected if x is not None)


def test_fast_shape_rows_all_take_the_fast_path() -> None:
    n = 1000
    table = pa.table(
        {
            "user_id": [f"u{i % 50}" for i in range(n)],
            "event": ["visit"] * n,
            "ts": [f"2024-03-{1 + i % 28:02d} 10:{i % 60:02d}:00" for i in range(n)],
            "revenue": ["" if i % 3 else "99.5" for i in range(n)],
            "商品": ['课程"A"\\' for _ in range(n)],
        }
    )
    result = normalize_table(table, tz=TZ, rows=np.arange(2, n + 2))
    assert result.fallback_rows == 0 and not result.rejects
    first = result.table.slice(0, 1).to_pylist()[0]
    assert first["properties"] == '{"商品":"课程\\"A\\"\\\\"}'
    assert json.loads(first["properties"]) == {"商品": '课程"A"\\'}


def test_typed_columns_from_parquet() -> None:
    ts = pa.array([datetime(2024, 3, 5, 1, 5, 33), None], pa.timestamp("ms", tz="UTC"))
    table = pa.table(
        {
            "event": ["a", "b"],
            "user_id": pa.array([13800138000, 2], pa.int64()),
            "ts": ts,
            "revenue": pa.array([1, 2], pa.int32()),
        }
    )
    result = normalize_table(table, tz=TZ, rows=np.array([1, 2]))
    rows = result.table.to_pylist()
    assert [r["user_id"] for r in rows] == ["13800138000"]
    assert rows[0]["ts"].isoformat() == "2024-03-05T01:05:33+00:00"
    assert [(r.row, r.field) for r in result.rejects] == [(2, "ts")]
