"""One raw event (from JSON, a file row or Python) → one validated canonical row.

This per-row path is the reference: the HTTP server calls it for each event, and the vectorised file
path (:mod:`sopflow.events.normalize_table`) hands it every row its fast checks decline, so both give
the same row (a property test holds them to it).

Rules:

- keys are matched through the header map (:mod:`sopflow.events.headers`), so ``distinct_id``,
  ``timestamp``, ``用户ID``… work; keys that match nothing go into ``properties``;
- text is stripped of spaces (including full-width ``\\u3000``); empty means missing; control
  characters are refused outside ``properties``; ids and names are at most :data:`MAX_TEXT_CHARS`;
- ``event``, ``user_id`` and ``ts`` are required; ``event`` ``identify`` is spelled ``$identify``;
- ``ts``: see :mod:`sopflow.events.timeparse` (naive times are read in ``tz``);
- ``revenue``: a decimal with up to 14 integer digits, rounded half-even to 4 places; ``¥``, ``￥`` and
  thousands separators are ignored; ``currency`` is an ISO code, ``CNY`` when revenue is given alone;
- ``properties``: a JSON object (or its text) of at most :data:`MAX_PROPERTIES_BYTES` UTF-8 bytes.
  Text given alone is kept as written; otherwise it is written compactly with sorted keys;
- ``event_id``: when absent, the MD5 hex of the row's content (:func:`content_text`), so importing
  the same row twice yields the same id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sopflow.errors import InvalidInput
from sopflow.events.headers import ANON_ID, BUILTIN_HEADERS, fold
from sopflow.events.schema import ANON_ID_PROPERTY, COLUMNS, IDENTIFY_EVENT
from sopflow.events.timeparse import TimeParseError, parse_datetime, parse_number, parse_text, us_to_datetime
from sopflow.i18n import N_, _

MAX_TEXT_CHARS = 200
MAX_PROPERTIES_BYTES = 65_536
MAX_REVENUE_INT_DIGITS = 14
STRIP_CHARS = " \t\r\n\u3000\xa0"
SEPARATOR = "\x1f"
DEFAULT_CURRENCY = "CNY"
TEXT_FIELDS = ("event_id", "event", "user_id", "channel", "campaign", "step", "variant", "inviter_id")
CONTROL_PATTERN = r"[\x00-\x1f\x7f]"
_CONTROL = re.compile(CONTROL_PATTERN)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MONEY_NOISE = re.compile(r"[,¥￥]")
_QUANTUM = Decimal("0.0001")

REASONS = {
    "missing": N_("required, but empty"),
    "too_long": N_("longer than {limit} characters"),
    "control": N_("contains control characters"),
    "not_text": N_("must be text"),
    "unrecognised": N_("not a date/time sopflow understands (e.g. 2024-03-05 09:05:33 or epoch seconds)"),
    "bad_date": N_("not a real date or time of day"),
    "bad_zone": N_("bad time zone offset"),
    "out_of_range": N_("outside 1970–2099"),
    "bad_money": N_("not an amount of money (e.g. 99 or 1,299.00)"),
    "money_too_big": N_("amount too large (at most 14 digits before the point)"),
    "bad_currency": N_("not a three-letter currency code such as CNY"),
    "bad_json": N_("not a JSON object"),
    "too_big": N_("larger than {limit} bytes"),
}


class EventInvalid(InvalidInput):
    """One event failed validation; ``field`` and ``row`` say where, ``reason`` says why (translated)."""

    code = "event_invalid"

    def __init__(self, field: str, reason_code: str, *, row: int | None = None, **values: Any) -> None:
        self.field = field
        self.row = row
        self.reason_code = reason_code
        self.reason = _(REASONS[reason_code], **values)
        if row is None:
            message = _("field {field}: {reason}", field=field, reason=self.reason)
        else:
            message = _("row {row}, field {field}: {reason}", row=row, field=field, reason=self.reason)
        super().__init__(message, code=self.code)


def normalize_event(
    raw: Mapping[str, Any], *, tz: tzinfo, row: int | None = None, default_ts: datetime | None = None
) -> dict[str, Any]:
    """Validate ``raw`` and return the canonical row (keys of ``EVENT_SCHEMA``; ``ts`` an aware UTC datetime).

    ``default_ts`` stands in for a missing timestamp (the HTTP server passes the receive time).
    """
    fields, extras, given_props = _split(raw)
    return normalize_parts(fields, extras, given_props, tz=tz, row=row, default_ts=default_ts)


def normalize_parts(
    fields: Mapping[str, Any],
    extras: dict[str, Any],
    given_props: Any,
    *,
    tz: tzinfo,
    row: int | None = None,
    default_ts: datetime | None = None,
) -> dict[str, Any]:
    """:func:`normalize_event` after key matching: ``fields`` by target name, ``extras`` for properties."""
    out: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        out[name] = _text(fields.get(name), name, row)
    for name in ("event", "user_id"):
        if out[name] is None:
            raise EventInvalid(name, "missing", row=row)
    if _is_identify(out["event"]):
        out["event"] = IDENTIFY_EVENT
    ts_us = timestamp_us(fields.get("ts"), tz=tz, row=row, default_ts=default_ts)
    out["ts"] = us_to_datetime(ts_us)
    out["revenue"] = parse_revenue(fields.get("revenue"), row)
    currency = _text(fields.get("currency"), "currency", row)
    if currency is not None and not is_currency_code(currency.upper()):
        raise EventInvalid("currency", "bad_currency", row=row)
    out["currency"] = (
        currency.upper() if currency else (DEFAULT_CURRENCY if out["revenue"] is not None else None)
    )
    anon = _text(fields.get(ANON_ID), ANON_ID, row)
    if anon is not None:
        extras = {**extras, ANON_ID_PROPERTY: anon}
    out["properties"] = _properties(given_props, extras, row)
    if out["event_id"] is None:
        out["event_id"] = derive_event_id(out, ts_us)
    return {key: out[key] for key in COLUMNS}


def _split(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    fields: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    given_props: Any = None
    for key, value in raw.items():
        target = BUILTIN_HEADERS.get(fold(str(key)))
        if target == "properties":
            given_props = value
        elif target is None:
            extras[str(key).strip()] = value
        elif fields.get(target) in (None, ""):
            fields[target] = value
    return fields, extras, given_props


def is_currency_code(text: str) -> bool:
    return _CURRENCY.match(text) is not None


def _is_identify(event: str) -> bool:
    return event.isascii() and event.lower() == "identify"


def _text(value: Any, field: str, row: int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        raise EventInvalid(field, "not_text", row=row)
    text = text.strip(STRIP_CHARS)
    if not text:
        return None
    if len(text) > MAX_TEXT_CHARS:
        raise EventInvalid(field, "too_long", row=row, limit=MAX_TEXT_CHARS)
    if _CONTROL.search(text):
        raise EventInvalid(field, "control", row=row)
    return text


def timestamp_us(value: Any, *, tz: tzinfo, row: int | None, default_ts: datetime | None) -> int:
    """UTC microseconds of a raw ``ts`` value (``default_ts`` when it is missing); raises :class:`EventInvalid`."""
    try:
        if isinstance(value, str):
            value = value.strip(STRIP_CHARS) or None
        if value is None:
            if default_ts is None:
                raise EventInvalid("ts", "missing", row=row)
            return parse_datetime(default_ts, tz)
        if isinstance(value, str):
            return parse_text(value, tz)
        if isinstance(value, datetime | date):
            return parse_datetime(value, tz)
        if isinstance(value, int | float | Decimal):
            return parse_number(value)
    except TimeParseError as exc:
        raise EventInvalid("ts", exc.reason, row=row) from None
    raise EventInvalid("ts", "unrecognised", row=row)


def parse_revenue(value: Any, row: int | None) -> Decimal | None:
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise EventInvalid("revenue", "bad_money", row=row)
        return None
    if isinstance(value, float):
        value = repr(value)
    text = _MONEY_NOISE.sub("", str(value)).strip(STRIP_CHARS)
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise EventInvalid("revenue", "bad_money", row=row) from None
    if not amount.is_finite():
        raise EventInvalid("revenue", "bad_money", row=row)
    amount = amount.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) if amount.adjusted() < 20 else amount
    if abs(amount) >= Decimal(10) ** MAX_REVENUE_INT_DIGITS:
        raise EventInvalid("revenue", "money_too_big", row=row)
    return amount if amount else abs(amount)


def _properties(given: Any, extras: dict[str, Any], row: int | None) -> str | None:
    cleaned = {k: v for k, v in ((k, _json_value(v)) for k, v in extras.items()) if v is not None and v != ""}
    text: str | None = None
    if isinstance(given, str):
        given = given.strip(STRIP_CHARS) or None
    if isinstance(given, str):
        try:
            parsed = json.loads(given)
        except ValueError:
            raise EventInvalid("properties", "bad_json", row=row) from None
        if not isinstance(parsed, dict):
            raise EventInvalid("properties", "bad_json", row=row)
        if not cleaned:
            text = given if parsed else None
        given = parsed
    elif given is not None and not isinstance(given, Mapping):
        raise EventInvalid("properties", "bad_json", row=row)
    if text is None:
        merged = dict(given or {})
        for key, value in cleaned.items():
            merged.setdefault(key, value)
        if merged:
            try:
                text = json.dumps(merged, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            except (TypeError, ValueError):
                raise EventInvalid("properties", "bad_json", row=row) from None
    if text is not None and len(text.encode()) > MAX_PROPERTIES_BYTES:
        raise EventInvalid("properties", "too_big", row=row, limit=MAX_PROPERTIES_BYTES)
    return text


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value.strip(STRIP_CHARS)
    return value


def revenue_text(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.4f}"


def content_text(row: Mapping[str, Any], ts_us: int) -> str:
    """The text an absent ``event_id`` is derived from: every canonical field, ``\\x1f``-separated.

    Control characters are refused in text fields and escaped inside JSON, so the separator is unambiguous.
    """
    parts = [
        row["event"],
        row["user_id"],
        str(ts_us),
        row["channel"],
        row["campaign"],
        row["step"],
        row["variant"],
        row["inviter_id"],
        revenue_text(row["revenue"]),
        row["currency"],
        row["properties"],
    ]
    return SEPARATOR.join(p or "" for p in parts)


def derive_event_id(row: Mapping[str, Any], ts_us: int) -> str:
    return hashlib.md5(content_text(row, ts_us).encode(), usedforsecurity=False).hexdigest()
