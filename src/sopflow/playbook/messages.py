"""Pydantic's validation errors, turned into codes and messages in the user's language."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

from sopflow.i18n import _

_TYPE_NAMES = {
    "string": "text",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
    "tuple": "a list",
}


def _expected(kind: str) -> str:
    names = {
        "text": _("text"),
        "an integer": _("an integer"),
        "a number": _("a number"),
        "true or false": _("true or false"),
        "a list": _("a list"),
        "a mapping": _("a mapping"),
    }
    return names[_TYPE_NAMES[kind]]


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return _("a mapping")
    if isinstance(value, list):
        return _("a list")
    if value is None:
        return _("nothing")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(error: ErrorDetails, field: str) -> tuple[str, str]:
    """(code, message) for one pydantic error on ``field`` (the last name in its path)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value = error.get("input")
    if kind == "missing":
        return "missing_field", _("missing required field {field!r}", field=field)
    if kind == "extra_forbidden":
        return "unknown_field", _("unknown field {field!r}", field=field)
    for prefix in _TYPE_NAMES:
        if kind in (f"{prefix}_type", f"{prefix}_parsing"):
            return "wrong_type", _(
                "{field}: expected {expected}, got {got}",
                field=field,
                expected=_expected(prefix),
                got=_shown(value),
            )
    if kind == "finite_number":
        return "wrong_type", _("{field}: expected a finite number, got {got}", field=field, got=_shown(value))
    if kind == "literal_error":
        return "unknown_choice", _(
            "{field}: {got} is not one of {expected}",
            field=field,
            got=_shown(value),
            expected=ctx.get("expected"),
        )
    bounds = {
        "greater_than_equal": ("ge", "{field}: must be at least {limit}, got {got}"),
        "greater_than": ("gt", "{field}: must be more than {limit}, got {got}"),
        "less_than_equal": ("le", "{field}: must be at most {limit}, got {got}"),
        "less_than": ("lt", "{field}: must be less than {limit}, got {got}"),
    }
    if kind in bounds:
        key, template = bounds[kind]
        return "out_of_range", _(template, field=field, limit=ctx.get(key), got=_shown(value))
    if kind == "too_short":
        return "too_short", _(
            "{field}: needs at least {count} item(s)", field=field, count=ctx.get("min_length", 1)
        )
    if kind == "too_long":
        return "too_long", _("{field}: at most {count} item(s)", field=field, count=ctx.get("max_length"))
    if kind == "string_too_short":
        return "empty", _("{field}: must not be empty", field=field)
    if kind == "string_pattern_mismatch":
        return "bad_format", _("{field}: {got} has the wrong format", field=field, got=_shown(value))
    if kind == "literal_union" or kind.startswith("union"):
        return "wrong_type", _("{field}: invalid value {got}", field=field, got=_shown(value))
    # Our own validators raise PydanticCustomError with an already translated message.
    return kind, f"{field}: {error['msg']}"
