"""Read what PostHog SDKs send and map it onto canonical events, as PostHog's own capture service does.

Request bodies (any of ``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``):

- JSON: one event, an array of events (posthog-js), or ``{"api_key", "batch": [...], "sent_at"}``
  (posthog-python and the other server SDKs);
- gzip, detected by its magic bytes whatever the headers say (``Content-Encoding: gzip`` or
  ``?compression=gzip-js``), as PostHog does, because clients do not always say so;
- form-encoded ``data=<base64 JSON>`` (old posthog-js and mini-program ports), optionally gzip inside.

``?ver=`` and ``?ip=`` are accepted and ignored; ``?_=<ms>`` is the send time when the body has no ``sent_at``.

The project API key is the first found of: the batch's ``api_key``/``token``; each event's ``token``,
``$token``, ``api_key`` or ``properties.token`` (all events must agree); the form's ``api_key``/``token``;
``?token=``/``?api_key=``. It is never stored with the event.

Mapping of one event (``properties`` left over go to the canonical ``properties``):

==================  ====================================================================================
canonical           from
==================  ====================================================================================
``user_id``         ``distinct_id``, else ``$distinct_id``, else ``properties.distinct_id``; numbers and
                    objects are turned into text; cut at 200 characters (as PostHog does)
``event``           ``event``; ``$create_alias`` becomes ``$identify`` (see below)
``event_id``        ``uuid`` (must be a UUID); when absent, derived from the content by the store
``ts``              ``timestamp`` corrected for the device's clock skew, measured as ``sent_at`` − time
                    received, of which only the part beyond 150 s is corrected (less can be transit time;
                    PostHog's rule); ``offset`` (ms before receipt) wins over ``timestamp``; no time at all
                    means the time received; more than 23 h in the future also means the time received.
                    ``properties.$ignore_sent_at`` turns the skew correction off
``channel``         ``properties.channel``, else ``properties.utm_source`` (which stays in properties)
``campaign``        ``properties.campaign``, else ``properties.utm_campaign`` (which stays in properties)
``step``, ``variant``, ``inviter_id``, ``revenue``, ``currency``
                    the property of that name (moved out of properties)
==================  ====================================================================================

Identity: ``$identify`` events (posthog-js ``identify()``) keep ``properties.$anon_distinct_id``, the
anonymous id now known as ``distinct_id``, which is sopflow's identity link. An alias
(``$create_alias`` with ``properties.alias``, from ``alias()``) is stored as ``$identify`` with
``$anon_distinct_id`` set to the alias, since both merge two ids into one person. ``$set`` and ``$set_once``
given at the top level (posthog-python ``set()``, posthog-js ``identify()``) are kept as the properties
``$set``/``$set_once``, so person properties stay with the person's events.

A request's events are mapped a field at a time for all of them (:mod:`sopflow.web.posthog_batch`, the fast
path of ``/batch/``); :func:`to_canonical`, one event at a time, is the reference that path follows and
takes over for any batch it declines (tests/web/test_posthog_batch.py holds the two to the same rows).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from sopflow.events.normalize import MAX_TEXT_CHARS
from sopflow.events.timeparse import EPOCH, EPOCH_MILLIS_BELOW
from sopflow.i18n import _
from sopflow.web.body import GZIP_MAGIC, decoded_too_large, gunzip, parse_json, unbase64
from sopflow.web.errors import ApiError

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_MICROSECOND = timedelta(microseconds=1)
CLOCK_SKEW_DEADBAND = timedelta(seconds=150)
FUTURE_CUTOFF = timedelta(hours=23)
PICKED = ("channel", "campaign", "step", "variant", "inviter_id", "revenue", "currency")
FALLBACKS = {"channel": "utm_source", "campaign": "utm_campaign"}
SECRET_PROPERTIES = ("token", "$token", "api_key")


@dataclass
class CaptureRequest:
    token: str | None
    events: list[Any]
    sent_at: datetime | None


def invalid(message: str, *, code: str = "invalid_payload", field: str | None = None) -> ApiError:
    return ApiError(message, code=code, status=400, field=field)


def _form_payload(body: bytes) -> tuple[bytes, dict[str, str]]:
    pairs = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    form = {key: values[0] for key, values in pairs.items()}
    data = form.get("data")
    if data is None:
        raise invalid(_("failed to decode request: missing data field"))
    text = data.strip()
    return (text.encode("utf-8") if text[:1] in ("{", "[") else unbase64(text)), form


def _decode(
    body: bytes, *, content_type: str, query: Mapping[str, str], limit: int
) -> tuple[Any, dict[str, str]]:
    form: dict[str, str] = {}
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        body, form = _form_payload(body)
    compression = (form.get("compression") or query.get("compression") or "").lower()
    if compression == "lz64":
        raise invalid(
            _("failed to decode request: lz64 compression is not supported; use gzip"),
            code="unsupported_compression",
        )
    if compression == "base64" and not body.startswith(GZIP_MAGIC):
        body = unbase64(body.decode("latin-1"))
    if body.startswith(GZIP_MAGIC):
        body = gunzip(body, limit=limit, too_large_status=400)
    elif len(body) > limit:
        raise decoded_too_large(limit, status=400)
    if not body.strip():
        raise invalid(_("request holds no event"), code="empty_batch")
    return parse_json(body), form


def _event_token(event: Any) -> str | None:
    if not isinstance(event, dict):
        return None
    for key in ("token", "$token", "api_key"):
        if isinstance(event.get(key), str) and event[key]:
            return str(event[key])
    props = event.get("properties")
    if isinstance(props, dict) and isinstance(props.get("token"), str) and props["token"]:
        return str(props["token"])
    return None


def _token(payload: Any, form: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    if isinstance(payload, dict) and "batch" in payload:
        for key in ("api_key", "token"):
            if isinstance(payload.get(key), str) and payload[key]:
                return str(payload[key])
    events = payload if isinstance(payload, list) else [payload]
    found = {token for token in map(_event_token, events) if token}
    if len(found) > 1:
        raise ApiError(
            _("batch submitted with inconsistent api_key values"), code="multiple_api_keys", status=401
        )
    if found:
        return found.pop()
    for source in (form, query):
        for key in ("api_key", "token"):
            if source.get(key):
                return source[key]
    return None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 text (naive means UTC) or epoch seconds/milliseconds → aware UTC datetime; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return parse_time(int(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _sent_at(payload: Any, query: Mapping[str, str]) -> datetime | None:
    if isinstance(payload, dict) and payload.get("sent_at"):
        parsed = parse_time(payload["sent_at"])
        if parsed is not None:
            return parsed
    millis = query.get("_", "")
    if millis.isdigit():
        parsed = parse_time(int(millis) / 1000)
        # Old SDKs sent seconds here; like PostHog, only take values that read as a recent time in ms.
        if parsed is not None and parsed.year > 2020:
            return parsed
    return None


def decode_capture(body: bytes, *, content_type: str, query: Mapping[str, str], limit: int) -> CaptureRequest:
    payload, form = _decode(body, content_type=content_type, query=query, limit=limit)
    if isinstance(payload, dict) and "batch" in payload:
        events = payload["batch"]
        if not isinstance(events, list):
            raise invalid(_("failed to parse request: batch must be a list of events"), field="batch")
    elif isinstance(payload, list):
        events = payload
    elif isinstance(payload, dict):
        events = [payload]
    else:
        raise invalid(_("failed to parse request: expected an event, a list of events or a batch"))
    if not events:
        raise invalid(_("request holds no event"), code="empty_batch")
    return CaptureRequest(token=_token(payload, form, query), events=events, sent_at=_sent_at(payload, query))


def correctable_skew(measured: timedelta) -> timedelta:
    """The part of ``sent_at - now`` beyond the deadband: below it, the gap may be transit time, not a clock."""
    excess = abs(measured) - CLOCK_SKEW_DEADBAND
    if excess <= timedelta(0):
        return timedelta(0)
    return excess if measured > timedelta(0) else -excess


def clock_skew(sent_at: datetime | None, now: datetime) -> timedelta | None:
    return None if sent_at is None else correctable_skew(sent_at - now)


def event_time(event: Mapping[str, Any], *, now: datetime, sent_at: datetime | None, index: int) -> datetime:
    return _event_time(event, now=now, skew=clock_skew(sent_at, now), index=index)


def _event_time(event: Mapping[str, Any], *, now: datetime, skew: timedelta | None, index: int) -> datetime:
    """``event_time`` with the request's clock correction computed once (``None``: no ``sent_at``)."""
    ts = now
    raw = event.get("timestamp")
    if raw not in (None, ""):
        parsed = parse_time(raw)
        if parsed is None:
            raise invalid(
                _("event {index}: invalid timestamp {value!r}", index=index, value=raw),
                code="invalid_timestamp",
                field=f"batch[{index}].timestamp",
            )
        props = event.get("properties")
        ignore = bool(props.get("$ignore_sent_at")) if isinstance(props, dict) else False
        ts = parsed - skew if skew is not None and not ignore else parsed
    offset = event.get("offset")
    if isinstance(offset, int | float) and not isinstance(offset, bool):
        ts = now - timedelta(milliseconds=offset)
    return now if ts - now > FUTURE_CUTOFF else ts


def distinct_id(event: Mapping[str, Any], props: Mapping[str, Any]) -> str | None:
    for value in (event.get("distinct_id"), event.get("$distinct_id"), props.get("distinct_id")):
        if value is None or value == "":
            continue
        if isinstance(value, str):
            text = value
        elif isinstance(value, dict | list):
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        else:
            text = json.dumps(value)
        return text[:MAX_TEXT_CHARS]
    return None


def event_uuid(event: Mapping[str, Any], index: int) -> str | None:
    value = event.get("uuid")
    if value in (None, ""):
        return None
    if type(value) is str and _CANONICAL_UUID.match(value):
        return value  # already as str(uuid.UUID(value)) writes it
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise invalid(
            _("event {index}: uuid {value!r} is not a UUID", index=index, value=value),
            field=f"batch[{index}].uuid",
        ) from None


def to_canonical(event: Any, *, now: datetime, sent_at: datetime | None, index: int) -> dict[str, Any]:
    """One PostHog event → a raw canonical event for ``normalize_event`` (see the module docs)."""
    return _map_event(event, now=now, skew=clock_skew(sent_at, now), index=index, ts_as_us=False)


def canonical_batch(
    events: list[Any], *, now: datetime, sent_at: datetime | None
) -> Sequence[Mapping[str, Any]]:
    """:func:`to_canonical` of every event of a request, for :func:`~sopflow.events.normalize_batch.normalize_batch`.

    Usually column-wise (:mod:`sopflow.web.posthog_batch`, far cheaper per event); a batch that path declines
    (an invalid event, a rare spelling) is mapped here event by event, with ``ts`` as UTC microseconds where
    an integer reads back as the same instant (after 1973, see :func:`sopflow.events.timeparse.epoch_to_us`).
    """
    from sopflow.web.posthog_batch import canonical_columns  # it builds on this module

    mapped: Sequence[Mapping[str, Any]] | None = canonical_columns(events, now=now, sent_at=sent_at)
    if mapped is None:
        mapped = canonical_rows(events, now=now, sent_at=sent_at)
    return mapped


def canonical_rows(events: list[Any], *, now: datetime, sent_at: datetime | None) -> list[dict[str, Any]]:
    """:func:`canonical_batch` event by event (the reference for the column-wise mapping)."""
    skew = clock_skew(sent_at, now)
    return [
        _map_event(event, now=now, skew=skew, index=index, ts_as_us=True)
        for index, event in enumerate(events)
    ]


def _map_event(
    event: Any, *, now: datetime, skew: timedelta | None, index: int, ts_as_us: bool
) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise invalid(_("event {index}: expected a JSON object", index=index), field=f"batch[{index}]")
    name = event.get("event")
    if not isinstance(name, str) or not name:
        raise invalid(
            _("event {index}: event submitted with an empty event name", index=index),
            code="missing_event_name",
            field=f"batch[{index}].event",
        )
    raw_props = event.get("properties")
    if raw_props is not None and not isinstance(raw_props, dict):
        raise invalid(
            _("event {index}: properties must be a JSON object", index=index),
            field=f"batch[{index}].properties",
        )
    props = dict(raw_props or {})
    user_id = distinct_id(event, props)
    if user_id is None:
        raise invalid(
            _("event {index}: event submitted without a distinct_id", index=index),
            code="missing_distinct_id",
            field=f"batch[{index}].distinct_id",
        )
    for key in (*SECRET_PROPERTIES, "distinct_id"):
        props.pop(key, None)
    for key in ("$set", "$set_once"):
        given = event.get(key)
        if isinstance(given, dict):
            earlier = props.get(key)
            props[key] = {**earlier, **given} if isinstance(earlier, dict) else dict(given)
    if name == "$create_alias" and props.get("alias") not in (None, ""):
        name = "$identify"
        props["$anon_distinct_id"] = str(props["alias"])
    when = _event_time(event, now=now, skew=skew, index=index)
    ts: datetime | int = when
    if ts_as_us:
        us: int = (when - EPOCH) // _MICROSECOND
        if us >= EPOCH_MILLIS_BELOW:
            ts = us
    raw: dict[str, Any] = {"event": name, "user_id": user_id, "ts": ts}
    event_id = event_uuid(event, index)
    if event_id is not None:
        raw["event_id"] = event_id
    for column in PICKED:
        if column in props:
            raw[column] = props.pop(column)
        elif column in FALLBACKS and props.get(FALLBACKS[column]) not in (None, ""):
            raw[column] = props[FALLBACKS[column]]
    raw["properties"] = props
    return raw
