"""PostHog payloads → canonical raw events, without a server: decoding, tokens, identity, times."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.web.errors import ApiError
from sopflow.web.posthog import correctable_skew, decode_capture, event_time, parse_time, to_canonical

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
LIMIT = 1 << 20


def decode(body: bytes, content_type: str = "application/json", **query: str):  # type: ignore[no-untyped-def]
    return decode_capture(body, content_type=content_type, query=query, limit=LIMIT)


def test_batch_body_of_the_python_sdk() -> None:
    body = json.dumps(
        {
            "api_key": "sf_k",
            "sent_at": "2025-06-01T12:00:01+00:00",
            "batch": [{"event": "a", "distinct_id": "u1"}, {"event": "b", "distinct_id": "u2"}],
        }
    )
    request = decode(body.encode())
    assert request.token == "sf_k"
    assert [e["event"] for e in request.events] == ["a", "b"]
    assert request.sent_at == datetime(2025, 6, 1, 12, 0, 1, tzinfo=UTC)


def test_array_body_of_posthog_js_with_token_in_properties_and_sent_at_in_query() -> None:
    events = [{"event": "$pageview", "properties": {"token": "sf_js", "distinct_id": "anon-1"}}] * 2
    request = decode(json.dumps(events).encode(), _="1748779200000", ver="1.200.0")
    assert request.token == "sf_js"
    assert len(request.events) == 2
    assert request.sent_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_seconds_in_the_underscore_parameter_are_ignored() -> None:
    assert decode(b'{"event": "a", "token": "t"}', _="1748779200").sent_at is None


def test_inconsistent_tokens_in_an_array_are_401() -> None:
    events = [{"event": "a", "token": "t1"}, {"event": "a", "token": "t2"}]
    with pytest.raises(ApiError) as info:
        decode(json.dumps(events).encode())
    assert (info.value.http_status, info.value.code) == (401, "multiple_api_keys")


@pytest.mark.parametrize(
    ("event", "query", "expected"),
    [
        ({"event": "a", "$token": "t1"}, {}, "t1"),
        ({"event": "a", "api_key": "t2"}, {}, "t2"),
        ({"event": "a"}, {"token": "t3"}, "t3"),
        ({"event": "a", "token": "body"}, {"token": "query"}, "body"),
        ({"event": "a"}, {}, None),
    ],
)
def test_token_sources(event: dict[str, str], query: dict[str, str], expected: str | None) -> None:
    assert decode(json.dumps(event).encode(), **query).token == expected


def test_gzip_is_detected_by_magic_bytes_whatever_the_headers_say() -> None:
    body = gzip.compress(json.dumps({"event": "a", "token": "t"}).encode())
    assert decode(body).events[0]["event"] == "a"
    assert decode(body, compression="gzip-js").events[0]["event"] == "a"


def test_base64_form_body_with_lost_plus_signs_and_padding() -> None:
    raw = json.dumps(
        [{"event": "签到~~~", "properties": {"token": "t", "distinct_id": "u"}}], ensure_ascii=False
    )
    data = base64.b64encode(raw.encode()).decode()
    assert "+" in data and data.endswith("=")
    # A client that forgot to escape '+' (form decoding makes it a space) and dropped the padding.
    body = ("data=" + data.rstrip("=")).encode()
    request = decode(body, "application/x-www-form-urlencoded")
    assert request.events[0]["event"] == "签到~~~"
    assert request.token == "t"


def test_form_body_with_gzip_inside_and_token_in_form() -> None:
    raw = gzip.compress(json.dumps({"event": "a", "distinct_id": "u"}).encode())
    body = urlencode({"data": base64.b64encode(raw).decode(), "compression": "gzip-js", "api_key": "t"})
    request = decode(body.encode(), "application/x-www-form-urlencoded; charset=utf-8")
    assert request.token == "t" and request.events[0]["distinct_id"] == "u"


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"", "application/json", "empty_batch"),
        (b"[]", "application/json", "empty_batch"),
        (b'{"batch": []}', "application/json", "empty_batch"),
        (b"{not json", "application/json", "invalid_json"),
        (b'"just text"', "application/json", "invalid_payload"),
        (b'{"batch": {"event": "a"}}', "application/json", "invalid_payload"),
        (b"\x1f\x8b\x08garbage", "application/json", "invalid_gzip"),
        (b"nodata=1", "application/x-www-form-urlencoded", "invalid_payload"),
        (b"data=!!!notbase64", "application/x-www-form-urlencoded", "invalid_base64"),
    ],
)
def test_unreadable_bodies_are_400(body: bytes, content_type: str, code: str) -> None:
    with pytest.raises(ApiError) as info:
        decode(body, content_type)
    assert (info.value.http_status, info.value.code) == (400, code)


def test_lz64_is_refused_clearly() -> None:
    with pytest.raises(ApiError, match="lz64"):
        decode(b"data=abc", "application/x-www-form-urlencoded", compression="lz64")


def test_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"[" + b" " * (4 * LIMIT) + b"]")
    assert len(bomb) < LIMIT // 10
    with pytest.raises(ApiError) as info:
        decode(bomb)
    assert info.value.code == "body_too_large"


def test_mapping_of_a_capture_event() -> None:
    event = {
        "event": "pay",
        "distinct_id": "u1",
        "uuid": "01890A5D-AC96-774B-BCCE-6FD8C5D2C1E0",
        "timestamp": "2025-06-01T10:00:00.123456+08:00",
        "properties": {
            "token": "secret",
            "$lib": "web",
            "revenue": "99.5",
            "currency": "CNY",
            "channel": "moments",
            "utm_campaign": "spring",
            "step": "d1_post",
            "variant": "B",
            "inviter_id": "u0",
            "plan": "pro",
        },
    }
    raw = to_canonical(event, now=NOW, sent_at=None, index=0)
    assert raw == {
        "event_id": "01890a5d-ac96-774b-bcce-6fd8c5d2c1e0",
        "event": "pay",
        "user_id": "u1",
        "ts": datetime(2025, 6, 1, 2, 0, 0, 123456, tzinfo=UTC),
        "channel": "moments",
        "campaign": "spring",
        "step": "d1_post",
        "variant": "B",
        "inviter_id": "u0",
        "revenue": "99.5",
        "currency": "CNY",
        "properties": {"$lib": "web", "utm_campaign": "spring", "plan": "pro"},
    }


def test_utm_source_is_the_channel_when_none_is_given() -> None:
    raw = to_canonical(
        {"event": "visit", "distinct_id": "u", "properties": {"utm_source": "wechat"}},
        now=NOW,
        sent_at=None,
        index=0,
    )
    assert raw["channel"] == "wechat" and raw["properties"] == {"utm_source": "wechat"}


@pytest.mark.parametrize(
    ("event", "user_id"),
    [
        ({"event": "e", "distinct_id": "top", "properties": {"distinct_id": "prop"}}, "top"),
        ({"event": "e", "$distinct_id": "dollar"}, "dollar"),
        ({"event": "e", "properties": {"distinct_id": "prop"}}, "prop"),
        ({"event": "e", "distinct_id": 23}, "23"),
        ({"event": "e", "distinct_id": {"b": 1, "a": "x"}}, '{"a":"x","b":1}'),
        ({"event": "e", "distinct_id": "x" * 250}, "x" * 200),
    ],
)
def test_distinct_id_sources(event: dict[str, object], user_id: str) -> None:
    assert to_canonical(event, now=NOW, sent_at=None, index=0)["user_id"] == user_id


@pytest.mark.parametrize(
    ("event", "code", "field"),
    [
        ({"distinct_id": "u"}, "missing_event_name", "batch[3].event"),
        ({"event": "", "distinct_id": "u"}, "missing_event_name", "batch[3].event"),
        ({"event": "e"}, "missing_distinct_id", "batch[3].distinct_id"),
        ({"event": "e", "distinct_id": ""}, "missing_distinct_id", "batch[3].distinct_id"),
        ({"event": "e", "distinct_id": "u", "uuid": "nope"}, "invalid_payload", "batch[3].uuid"),
        (
            {"event": "e", "distinct_id": "u", "timestamp": "yesterday"},
            "invalid_timestamp",
            "batch[3].timestamp",
        ),
        ({"event": "e", "distinct_id": "u", "properties": [1]}, "invalid_payload", "batch[3].properties"),
    ],
)
def test_invalid_events_are_400_with_the_field(event: dict[str, object], code: str, field: str) -> None:
    with pytest.raises(ApiError) as info:
        to_canonical(event, now=NOW, sent_at=None, index=3)
    assert (info.value.http_status, info.value.code, info.value.field) == (400, code, field)


def test_identify_keeps_the_anonymous_id_and_set() -> None:
    event = {
        "event": "$identify",
        "distinct_id": "user-9",
        "$set": {"email": "a@b.cn"},
        "properties": {"$anon_distinct_id": "anon-1", "$set": {"name": "王"}},
    }
    raw = to_canonical(event, now=NOW, sent_at=None, index=0)
    assert raw["event"] == "$identify" and raw["user_id"] == "user-9"
    assert raw["properties"] == {"$anon_distinct_id": "anon-1", "$set": {"name": "王", "email": "a@b.cn"}}


def test_alias_becomes_an_identity_link() -> None:
    event = {
        "event": "$create_alias",
        "distinct_id": "old",
        "properties": {"distinct_id": "old", "alias": "new"},
    }
    raw = to_canonical(event, now=NOW, sent_at=None, index=0)
    assert (raw["event"], raw["user_id"]) == ("$identify", "old")
    assert raw["properties"] == {"alias": "new", "$anon_distinct_id": "new"}


def test_set_event_keeps_person_properties() -> None:
    event = {"event": "$set", "distinct_id": "u", "$set": {"plan": "pro"}}
    assert to_canonical(event, now=NOW, sent_at=None, index=0)["properties"] == {"$set": {"plan": "pro"}}


def ts(event: dict[str, object], sent_at: datetime | None = None) -> datetime:
    return event_time(event, now=NOW, sent_at=sent_at, index=0)


def test_time_rules() -> None:
    t = "2025-06-01T11:00:00Z"
    base = datetime(2025, 6, 1, 11, tzinfo=UTC)
    assert ts({}) == NOW
    assert ts({"timestamp": t}) == base
    assert ts({"timestamp": "2025-06-01T11:00:00"}) == base, "naive means UTC"
    assert ts({"timestamp": 1748775600000}) == base, "epoch milliseconds"
    # A device 10 minutes ahead: the 150 s deadband is kept, the rest corrected (PostHog's rule).
    assert ts({"timestamp": t}, NOW + timedelta(minutes=10)) == base - timedelta(minutes=7, seconds=30)
    assert ts({"timestamp": t}, NOW - timedelta(minutes=10)) == base + timedelta(minutes=7, seconds=30)
    assert ts({"timestamp": t}, NOW - timedelta(seconds=40)) == base, "transit time is not skew"
    ignored = {"timestamp": t, "properties": {"$ignore_sent_at": True}}
    assert ts(ignored, NOW + timedelta(hours=1)) == base
    assert ts({"timestamp": t, "offset": 1500}) == NOW - timedelta(milliseconds=1500), "offset wins"
    assert ts({"timestamp": "2025-06-02T12:00:01Z"}) == NOW, "over 23 h ahead means now"
    assert ts({"timestamp": "2025-06-02T10:00:00Z"}) == datetime(2025, 6, 2, 10, tzinfo=UTC)


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_skew_correction_is_continuous_and_never_exceeds_the_measurement(ms: int) -> None:
    measured = timedelta(milliseconds=ms)
    fixed = correctable_skew(measured)
    assert abs(fixed) <= abs(measured)
    assert abs(measured - fixed) <= timedelta(seconds=150)
    step = correctable_skew(measured + timedelta(milliseconds=2000)) - fixed
    assert timedelta(0) <= step <= timedelta(milliseconds=2000)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_parse_time_round_trips_iso_text(moment: datetime) -> None:
    assert parse_time(moment.isoformat()) == moment
    assert parse_time(moment.isoformat().replace("+00:00", "Z")) == moment


_times = st.one_of(
    st.datetimes(
        min_value=datetime(1969, 12, 31), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
    st.sampled_from(["2025-06-01T10:00:00.250Z", "1972-01-01T00:00:00Z", "1973-03-03T09:46:40Z", None, ""]),
    st.integers(min_value=0, max_value=2_000_000_000_000),
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"event": st.sampled_from(["e", "$pageview"]), "distinct_id": st.sampled_from(["u1", "u2"])},
            optional={
                "timestamp": _times,
                "offset": st.integers(0, 10**9),
                "uuid": st.sampled_from(
                    ["0190A5D2-AC96-774B-BCCE-6FD8C5D2C1E0", "0190a5d2-ac96-774b-bcce-6fd8c5d2c1e0"]
                ),
                "properties": st.fixed_dictionaries({}, optional={"$ignore_sent_at": st.booleans()}),
            },
        ),
        min_size=1,
        max_size=6,
    ),
    st.one_of(
        st.none(),
        st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    ),
)
def test_batch_mapping_normalizes_as_one_by_one(
    events: list[dict[str, object]], sent_at: datetime | None
) -> None:
    """``canonical_batch`` (times as integers where that is exact) and ``to_canonical`` give the same rows."""
    from sopflow.events.normalize import EventInvalid, normalize_event
    from sopflow.web.posthog import canonical_batch

    def rows(raws: list[dict[str, object]]) -> list[object]:
        out: list[object] = []
        for raw in raws:
            try:
                out.append(normalize_event(raw, tz=UTC))
            except EventInvalid as exc:
                out.append(exc.field)
        return out

    try:
        one_by_one = [to_canonical(e, now=NOW, sent_at=sent_at, index=i) for i, e in enumerate(events)]
    except ApiError:
        return
    batch = canonical_batch(events, now=NOW, sent_at=sent_at)
    assert rows(batch) == rows(one_by_one)
    assert all(r.get("event_id") in (None, "0190a5d2-ac96-774b-bcce-6fd8c5d2c1e0") for r in batch)
