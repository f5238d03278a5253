"""The column-wise PostHog mapping stores exactly the rows (and names exactly the error) of the per-event path."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sopflow.events.normalize_batch as batch_module
import sopflow.web.posthog as posthog_module
from sopflow.events.normalize import EventInvalid, normalize_event
from sopflow.events.normalize_batch import RawColumns, normalize_batch
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.web.errors import ApiError
from sopflow.web.posthog import canonical_batch, canonical_rows, parse_time
from sopflow.web.posthog_batch import iso_us

NOW = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
UUID = "0190a5d2-ac96-774b-bcce-6fd8c5d2c1e0"
FORM = "application/x-www-form-urlencoded"

_moments = st.datetimes(min_value=datetime(1890, 1, 1), max_value=datetime(2310, 1, 1))
_zones = st.sampled_from(["", "Z", "+00:00", "-00:00", "+08:00", "-05:30", "+23:59", "+05:75", "+24:00"])


@st.composite
def iso_texts(draw: st.DrawFn) -> str:
    """ISO 8601 as SDKs write it, and near misses (other separators, fractions, impossible dates)."""
    moment = draw(_moments)
    fraction = draw(st.sampled_from(["", ".000", ".5", ".123456", ".1234567", f".{moment.microsecond:06d}"]))
    separator = draw(st.sampled_from(["T", " ", "T", "t", "_"]))
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + fraction + draw(_zones)
    mutation = draw(st.sampled_from([None, None, None, "feb30", "hour24", "pad", "digit"]))
    if mutation == "feb30":
        text = text[:5] + "02-30" + text[10:]
    elif mutation == "hour24":
        text = text[:11] + "24" + text[13:]
    elif mutation == "pad":
        text = f" {text} "
    elif mutation == "digit":
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(["٣", "x", "-", "+", ",", ":"])) + text[at + 1 :]
    return text


@settings(max_examples=400, deadline=None)
@given(st.lists(iso_texts(), min_size=1, max_size=5), st.booleans())
def test_iso_column_reads_what_parse_time_reads(texts: list[str], uniform: bool) -> None:
    values: list[str | None] = [texts[0]] * 4 if uniform else [*texts, None]
    us, settled = iso_us(values)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for value, micros, ok in zip(values, us.tolist(), settled.tolist(), strict=True):
        if ok:
            assert value is not None
            assert parse_time(value) == epoch + timedelta(microseconds=micros), value


_good_ids = st.sampled_from(["u1", "u2", " u3 ", "用户4", "x" * 250, " " * 5 + "y" * 200, "a\tb"])
_text_ids = st.one_of(_good_ids, st.just(""))
_distinct_ids = st.one_of(
    _text_ids,
    _text_ids,
    st.none(),
    st.integers(-5, 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just({"b": 1, "a": "x"}),
    st.just([1, "2"]),
)
_good_timestamps = st.one_of(
    _moments.filter(lambda m: 1971 <= m.year < 2090).map(lambda m: m.isoformat()),
    _moments.filter(lambda m: 1971 <= m.year < 2090).map(lambda m: m.replace(tzinfo=UTC).isoformat()),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2090, 1, 1)).map(
        lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    ),
    st.sampled_from(["1969-12-31T23:59:59Z", "2099-12-31 23:59:59.999999", "2025-06-02T11:00:00+00:00"]),
    st.integers(0, 2_000_000_000_000),
)
_timestamps = st.one_of(
    _good_timestamps,
    iso_texts(),
    st.sampled_from(["", "yesterday", "1748775600", "20250601", " 2025-06-01T10:00:00Z ", "2025-06-01"]),
    st.integers(0, 2_000_000_000_000),
    st.floats(min_value=0, max_value=2e12),
    st.none(),
)
_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False),
        st.text(max_size=4),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_property_values: dict[str, st.SearchStrategy[Any]] = {
    "token": st.just("secret"),
    "$token": st.just("secret"),
    "api_key": st.just("secret"),
    "distinct_id": _distinct_ids,
    "channel": st.sampled_from(["moments", " 朋友圈 ", "", None, 7, 3.5, True, "c\x01"]),
    "utm_source": st.sampled_from(["wechat", "", None]),
    "campaign": st.sampled_from(["spring", None]),
    "utm_campaign": st.sampled_from(["summer", ""]),
    "step": st.sampled_from(["d1", 3, None]),
    "variant": st.sampled_from(["A", "B" * 201]),
    "inviter_id": st.sampled_from(["u0", ""]),
    "revenue": st.one_of(
        st.sampled_from(["99.5", "1,299", "¥5", "abc", "", None, True]), st.integers(), st.floats()
    ),
    "currency": st.sampled_from(["CNY", "usd", "yuan", None, ""]),
    "$set": st.one_of(st.dictionaries(st.sampled_from(["plan", "name"]), _json, max_size=2), st.just("x")),
    "$set_once": st.dictionaries(st.sampled_from(["first"]), _json, max_size=1),
    "$ignore_sent_at": st.sampled_from([True, False, 1, None]),
    "alias": st.sampled_from(["new", "", None, 5]),
    "$anon_distinct_id": st.sampled_from(["anon-1", ""]),
    "$lib": st.just("posthog-python"),
    "page": _json,
}


@st.composite
def posthog_batches(draw: st.DrawFn) -> list[Any]:
    """Batches as SDKs send them (one shape per batch, mostly valid) and sometimes anything goes."""
    wild = draw(st.integers(0, 5)) == 0
    top = draw(
        st.lists(
            st.sampled_from(
                ["distinct_id", "$distinct_id", "uuid", "timestamp", "offset", "$set", "$set_once"]
            ),
            unique=True,
            max_size=5,
        )
    )
    prop_keys = draw(st.lists(st.sampled_from(sorted(_property_values)), unique=True, max_size=6))
    names = st.sampled_from(["$pageview", "pay", "identify", "$identify", "$set", " 付费 "])
    if wild:
        names = st.one_of(
            names, st.sampled_from(["$create_alias", "", "e" * 201, "a\tb"]), st.none(), st.just(5)
        )
    uuids = st.sampled_from([UUID, UUID.upper(), "{" + UUID + "}", None, ""])
    if wild:
        uuids = st.one_of(uuids, st.sampled_from(["nope", 5]))
    offsets = st.one_of(st.integers(0, 10**9), st.none(), st.sampled_from([1.5, 0.0005, True, -2.0]))
    if wild:
        offsets = st.one_of(offsets, st.just(10**13))
    events: list[Any] = []
    for _ in range(draw(st.integers(1, 8))):
        if wild and draw(st.integers(0, 20)) == 0:
            events.append(draw(st.sampled_from([None, "event", [1]])))
            continue
        event: dict[str, Any] = {"event": draw(names)}
        for key in top:
            if wild or draw(st.integers(0, 5)):
                event[key] = draw(
                    {
                        "distinct_id": _distinct_ids if wild else _good_ids,
                        "$distinct_id": _distinct_ids,
                        "uuid": uuids,
                        "timestamp": _timestamps if wild else _good_timestamps,
                        "offset": offsets,
                        "$set": st.one_of(
                            st.dictionaries(st.sampled_from(["plan", "email"]), _json), st.just(3)
                        ),
                        "$set_once": st.dictionaries(st.sampled_from(["first"]), _json),
                    }[key]
                )
        if not wild and draw(st.integers(0, 40)):
            event.setdefault("distinct_id", draw(_good_ids))
        if prop_keys or wild:
            props = {key: draw(_property_values[key]) for key in prop_keys if draw(st.integers(0, 4))}
            event["properties"] = props if not (wild and draw(st.integers(0, 10)) == 0) else [props]
        events.append(event)
    return events


def _outcome(raws: Any, *, per_row: bool) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    """Stored rows and the first error, as the ingest path (all-or-nothing) decides them."""
    if per_row:
        rows: list[dict[str, Any]] = []
        for index, raw in enumerate(raws):
            try:
                rows.append(normalize_event(raw, tz=TZ))
            except EventInvalid as exc:
                return [], ("event", index, exc.field, exc.reason_code)
        return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA).to_pylist(), None
    result = normalize_batch(raws, tz=TZ)
    if result.errors:
        index, exc = result.errors[0]
        return [], ("event", index, exc.field, exc.reason_code)
    assert result.table.schema.equals(EVENT_SCHEMA)
    return result.table.to_pylist(), None


def _both_paths(events: list[Any], sent_at: datetime | None) -> None:
    reference: Any
    try:
        reference = _outcome(canonical_rows(events, now=NOW, sent_at=sent_at), per_row=True)
    except ApiError as exc:
        reference = ([], ("mapping", exc.code, exc.field, str(exc)))
    except OverflowError:  # the per-event datetime arithmetic (years 1 and 9999): a 500 on both paths
        reference = "overflow"
    try:
        mapped = canonical_batch(list(events), now=NOW, sent_at=sent_at)
    except ApiError as exc:
        assert reference == ([], ("mapping", exc.code, exc.field, str(exc)))
        return
    except OverflowError:
        assert reference == "overflow"
        return
    assert _outcome(mapped, per_row=False) == reference


_sent_at = st.one_of(
    st.none(),
    st.just(NOW),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.sampled_from([datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)]),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(posthog_batches(), _sent_at)
def test_column_wise_mapping_stores_what_the_per_event_path_stores(
    events: list[Any], sent_at: datetime | None
) -> None:
    _both_paths(events, sent_at)


def _posthog_js(i: int) -> dict[str, Any]:
    return {
        "event": ("$pageview", "$autocapture", "$identify")[i % 3],
        "uuid": f"0190a5d2-ac96-774b-bcce-{i:012x}",
        "timestamp": f"2025-06-01T10:00:{i % 60:02d}.{i:03d}Z",
        "offset": i * 7 if i % 4 else None,
        "properties": {
            "token": "sf_key",
            "distinct_id": f"anon-{i % 9}",
            "$current_url": "https://h5.example.cn/a?x=1",
            "utm_source": "moments" if i % 2 else None,
            "$active_feature_flags": ["new-poster"],
            "$set": {"$browser": "WeChat"},
            "$anon_distinct_id": "anon-0" if i % 3 == 2 else None,
            "$screen_height": 844,
            "$time": 1748772000.25 + i,
        },
    }


def _posthog_python(i: int) -> dict[str, Any]:
    return {
        "event": ("signup", "pay", "$set")[i % 3],
        "distinct_id": f"user-{i % 11}",
        "uuid": f"0190a5d2-ac96-774b-bcce-1{i:011x}",
        "timestamp": (
            datetime(2025, 6, 1, 2, tzinfo=UTC) + timedelta(seconds=i, microseconds=i * 7919)
        ).isoformat(),
        "properties": {
            "$lib": "posthog-python",
            "channel": "moments",
            "campaign": "spring",
            "revenue": "99.5" if i % 3 == 1 else None,
            "plan": {"name": "pro", "seats": i},
        },
        "$set": {"plan": "pro"} if i % 3 == 2 else None,
    }


@pytest.mark.parametrize("make", [_posthog_js, _posthog_python])
def test_sdk_batches_take_the_column_path_end_to_end(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    events = [make(i) for i in range(100)]
    sent_at = NOW + timedelta(minutes=10)  # a device clock ahead: skew corrected
    expected = _outcome(canonical_rows(events, now=NOW, sent_at=sent_at), per_row=True)

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the per-event path was used")

    monkeypatch.setattr(posthog_module, "_map_event", refused)
    monkeypatch.setattr(batch_module, "normalize_event", refused)
    mapped = canonical_batch(list(events), now=NOW, sent_at=sent_at)
    assert isinstance(mapped, RawColumns)
    result = normalize_batch(mapped, tz=TZ)
    assert result.per_row == 0 and not result.errors
    assert (result.table.to_pylist(), None) == expected
    assert events == [make(i) for i in range(100)], "the event objects are left as they were"


def test_a_bad_event_is_named_by_index_and_field_as_before() -> None:
    events: list[Any] = [_posthog_python(i) for i in range(5)]
    events[3]["timestamp"] = "2025-02-30T10:00:00Z"
    with pytest.raises(ApiError) as info:
        canonical_batch(list(events), now=NOW, sent_at=None)
    assert (info.value.code, info.value.field) == ("invalid_timestamp", "batch[3].timestamp")
    events[3] = {**_posthog_python(3), "properties": {"currency": "yuan"}}
    mapped = canonical_batch(events, now=NOW, sent_at=None)
    assert isinstance(mapped, RawColumns)
    (error,) = normalize_batch(mapped, tz=TZ).errors
    assert (error[0], error[1].field, error[1].reason_code) == (3, "currency", "bad_currency")


def test_rows_the_columns_cannot_settle_go_to_the_reference_in_order() -> None:
    events = [_posthog_python(i) for i in range(6)]
    events[1]["properties"]["channel"] = 3.5  # not text to the column checks: the reference writes "3.5"
    events[4]["timestamp"] = "1969-12-31T23:00:00Z"  # before 1970: the reference refuses it
    mapped = canonical_batch(events, now=NOW, sent_at=None)
    assert isinstance(mapped, RawColumns)
    result = normalize_batch(mapped, tz=TZ, stop_at_first_error=False)
    assert [(i, e.field, e.reason_code) for i, e in result.errors] == [(4, "ts", "out_of_range")]
    rows = result.table.to_pylist()
    assert [r["user_id"] for r in rows] == ["user-0", "user-1", "user-2", "user-3", "user-5"]
    assert rows[1]["channel"] == "3.5"


def _sent(client: TestClient, body: bytes, how: str) -> Any:
    if how == "json":
        return client.post("/batch/", content=body, headers={"Content-Type": "application/json"})
    if how == "gzip":
        return client.post("/batch/", content=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    if how == "gzip-js":
        return client.post("/e/?compression=gzip-js", content=gzip.compress(body))
    if how == "base64":
        return client.post("/e/?compression=base64", content=base64.b64encode(body))
    data = base64.b64encode(gzip.compress(body) if how == "form-gzip" else body).decode()
    form = {"data": data, **({"compression": "gzip-js"} if how == "form-gzip" else {})}
    return client.post("/e/", content=urlencode(form).encode(), headers={"Content-Type": FORM})


@pytest.mark.parametrize("how", ["json", "gzip", "gzip-js", "base64", "form", "form-gzip"])
def test_every_encoding_stores_the_rows_of_the_per_event_path(
    client: TestClient, api_key: str, stored: Callable[[], list[dict[str, Any]]], how: str
) -> None:
    js = [{**_posthog_js(i), "offset": None} for i in range(40)]  # offsets count from the server's clock
    for event in js:
        event["properties"]["token"] = api_key
    events = [*js, *(_posthog_python(i) for i in range(60))]
    expected, error = _outcome(canonical_rows(events, now=NOW, sent_at=None), per_row=True)
    assert error is None
    body = json.dumps(events if how != "json" else {"api_key": api_key, "batch": events}).encode()
    response = _sent(client, body, how)
    assert response.status_code == 200, response.text
    key = itemgetter("user_id", "ts", "event", "event_id")
    assert sorted(stored(), key=key) == sorted(expected, key=key)
