"""Per-row normalisation: the reference rules, spelled out on literal rows."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sopflow.events.normalize import EventInvalid, content_text, normalize_event
from sopflow.i18n import set_language

SHANGHAI = ZoneInfo("Asia/Shanghai")


def norm(raw: dict[str, object], **kw: object) -> dict[str, object]:
    return normalize_event(raw, tz=SHANGHAI, **kw)  # type: ignore[arg-type]


def test_canonical_row_from_chinese_keys_and_naive_time() -> None:
    row = norm(
        {"用户ID": " u1 ", "事件": "付费", "时间": "2024-03-05 09:05:33", "金额": "¥1,299.5", "商品": "课程A"}
    )
    assert row["user_id"] == "u1"
    assert row["event"] == "付费"
    assert row["ts"] == datetime(2024, 3, 5, 1, 5, 33, tzinfo=UTC)  # 09:05 in Shanghai is 01:05 UTC
    assert row["revenue"] == Decimal("1299.5000")
    assert row["currency"] == "CNY"
    assert row["properties"] == '{"商品":"课程A"}'
    assert list(row) == [
        "event_id",
        "event",
        "user_id",
        "ts",
        "channel",
        "campaign",
        "step",
        "variant",
        "inviter_id",
        "revenue",
        "currency",
        "properties",
    ]


def test_derived_event_id_is_md5_of_the_content() -> None:
    row = norm({"user_id": "u1", "event": "visit", "ts": "2024-03-05T01:05:33Z"})
    ts_us = 1709600733 * 1_000_000
    expected = "\x1f".join(["visit", "u1", str(ts_us), "", "", "", "", "", "", "", ""])
    assert content_text(row, ts_us) == expected
    assert row["event_id"] == hashlib.md5(expected.encode()).hexdigest()
    assert (
        norm({"event": "visit", "distinct_id": "u1", "timestamp": 1709600733})["event_id"] == row["event_id"]
    )


def test_given_event_id_is_kept() -> None:
    assert norm({"uuid": "e-1", "event": "x", "user_id": "u", "ts": "2024-01-01"})["event_id"] == "e-1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05 09:05:33", datetime(2024, 3, 5, 1, 5, 33, tzinfo=UTC)),
        ("2024/3/5 9:05", datetime(2024, 3, 5, 1, 5, tzinfo=UTC)),
        ("2024年3月5日 9:05", datetime(2024, 3, 5, 1, 5, tzinfo=UTC)),
        ("2024-03-05", datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
        ("2024-03-05T09:05:33.123456789Z", datetime(2024, 3, 5, 9, 5, 33, 123456, tzinfo=UTC)),
        ("2024-03-05 09:05:33+08:00", datetime(2024, 3, 5, 1, 5, 33, tzinfo=UTC)),
        ("2024-03-05 09:05:33 -0130", datetime(2024, 3, 5, 10, 35, 33, tzinfo=UTC)),
        ("1709600733", datetime(2024, 3, 5, 1, 5, 33, tzinfo=UTC)),
        ("1709600733123", datetime(2024, 3, 5, 1, 5, 33, 123000, tzinfo=UTC)),
        ("1709600733.5", datetime(2024, 3, 5, 1, 5, 33, 500000, tzinfo=UTC)),
    ],
)
def test_timestamp_spellings(text: str, expected: datetime) -> None:
    assert norm({"event": "x", "user_id": "u", "ts": text})["ts"] == expected


def test_naive_time_follows_daylight_saving_of_the_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    winter = normalize_event({"event": "x", "user_id": "u", "ts": "2024-01-15 12:00"}, tz=new_york)
    summer = normalize_event({"event": "x", "user_id": "u", "ts": "2024-07-15 12:00"}, tz=new_york)
    assert winter["ts"].hour == 17 and summer["ts"].hour == 16


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"user_id": "u", "ts": "2024-01-01"}, "event", "missing"),
        ({"event": "x", "user_id": "  ", "ts": "2024-01-01"}, "user_id", "missing"),
        ({"event": "x", "user_id": "u"}, "ts", "missing"),
        ({"event": "x", "user_id": "u", "ts": "2024-02-30 10:00"}, "ts", "bad_date"),
        ({"event": "x", "user_id": "u", "ts": "yesterday"}, "ts", "unrecognised"),
        ({"event": "x", "user_id": "u", "ts": "1969-12-31"}, "ts", "out_of_range"),
        ({"event": "x", "user_id": "u", "ts": "2024-01-01", "revenue": "12元"}, "revenue", "bad_money"),
        ({"event": "x", "user_id": "u", "ts": "2024-01-01", "revenue": "1" * 15}, "revenue", "money_too_big"),
        ({"event": "x", "user_id": "u", "ts": "2024-01-01", "currency": "RMB1"}, "currency", "bad_currency"),
        ({"event": "x", "user_id": "u" * 201, "ts": "2024-01-01"}, "user_id", "too_long"),
        ({"event": "a\tb", "user_id": "u", "ts": "2024-01-01"}, "event", "control"),
        ({"event": "x", "user_id": "u", "ts": "2024-01-01", "properties": "[1]"}, "properties", "bad_json"),
        (
            {"event": "x", "user_id": "u", "ts": "2024-01-01", "properties": {"k": "v" * 70_000}},
            "properties",
            "too_big",
        ),
    ],
)
def test_invalid_rows_name_field_and_reason(raw: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(EventInvalid) as info:
        norm(raw, row=7)
    assert (info.value.field, info.value.reason_code, info.value.row) == (field, reason, 7)
    assert "row 7" in info.value.message and field in info.value.message


def test_error_message_is_translated() -> None:
    set_language("zh_CN")
    with pytest.raises(EventInvalid) as info:
        norm({"event": "x", "user_id": "u"}, row=3)
    assert info.value.message == "第 3 行，字段 ts：必填，但为空"


def test_revenue_rounds_half_even_to_four_places() -> None:
    assert norm({"event": "pay", "user_id": "u", "ts": "2024-01-01", "revenue": 0.30000000000000004})[
        "revenue"
    ] == (Decimal("0.3000"))
    assert norm({"event": "pay", "user_id": "u", "ts": "2024-01-01", "revenue": "1.00005"})["revenue"] == (
        Decimal("1.0000")
    )
    assert norm({"event": "pay", "user_id": "u", "ts": "2024-01-01", "revenue": "-0"})["revenue"] == Decimal(
        "0"
    )


def test_identify_row_links_anonymous_id() -> None:
    row = norm({"event": "identify", "user_id": "u1", "anon_id": "dev-9", "ts": "2024-01-01"})
    assert row["event"] == "$identify"
    assert row["properties"] == '{"$anon_distinct_id":"dev-9"}'


def test_properties_text_alone_is_kept_as_written_and_merged_otherwise() -> None:
    given = '{"b": 1, "a": 2}'
    assert (
        norm({"event": "x", "user_id": "u", "ts": "2024-01-01", "properties": given})["properties"] == given
    )
    merged = norm({"event": "x", "user_id": "u", "ts": "2024-01-01", "properties": given, "c": " 3 "})
    assert merged["properties"] == '{"a":2,"b":1,"c":"3"}'
    assert norm({"event": "x", "user_id": "u", "ts": "2024-01-01", "properties": "{}"})["properties"] is None


def test_missing_timestamp_can_default_to_receive_time() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert norm({"event": "x", "user_id": "u"}, default_ts=now)["ts"] == now
