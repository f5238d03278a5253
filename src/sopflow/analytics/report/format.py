"""Numbers as the report shows them: counts, rates with their denominators, money, durations, moments."""

from __future__ import annotations

from datetime import datetime

from sopflow.i18n import _

DASH = "—"
_CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "JPY": "¥", "GBP": "£", "HKD": "HK$"}


def count(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def percent(rate: float | None) -> str:
    if rate is None:
        return DASH
    if rate == 0:
        return "0%"
    return f"{rate:.2%}" if abs(rate) < 0.01 else f"{rate:.1%}"


def points(difference: float | None) -> str:
    """A difference of two rates, in percentage points: ``-0.7 pp``."""
    if difference is None:
        return DASH
    return _("{n} pp", n=f"{difference * 100:+.1f}")


def ratio_basis(numerator: float | None, denominator: float | None) -> str:
    """``2,217 ÷ 2,988``: what a rate was computed from."""
    return f"{count(numerator)} ÷ {count(denominator)}"


def money(value: float | None, currency: str) -> str:
    if value is None:
        return DASH
    sign = _CURRENCY_SIGNS.get(currency)
    digits = 0 if abs(value) >= 100 or float(value).is_integer() else 2
    text = f"{abs(value):,.{digits}f}"
    minus = "-" if value < 0 else ""
    return f"{minus}{sign}{text}" if sign else f"{minus}{text} {currency}"


def multiple(value: float | None) -> str:
    """A ratio such as ROI (投产比) or K: ``4.43``."""
    return DASH if value is None else f"{value:,.2f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    size = abs(seconds)
    if size < 60:
        return _("{n} s", n=f"{seconds:.0f}")
    if size < 3600:
        return _("{n} min", n=_one_decimal(seconds / 60))
    if size < 86400:
        return _("{n} h", n=_one_decimal(seconds / 3600))
    return _("{n} d", n=_one_decimal(seconds / 86400))


def _one_decimal(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def moment(iso: str | None) -> str:
    """An ISO datetime from a result as ``2026-11-03 05:57`` (its own offset kept, as the range's tz)."""
    if not iso:
        return DASH
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if parsed.hour == parsed.minute == parsed.second == 0 and parsed.microsecond == 0:
        return parsed.strftime("%Y-%m-%d")
    return parsed.strftime("%Y-%m-%d %H:%M")
