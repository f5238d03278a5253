"""Pydantic's validation errors, turned into codes and messages in the user's language."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel
from pydantic_core import ErrorDetails, core_schema

from sopflow.i18n import N_, _

# The error types pydantic itself raises. Any other type comes from our own validators
# (PydanticCustomError), whose message is already translated.
_PYDANTIC_TYPES = frozenset(typing.get_args(core_schema.ErrorType))

# Error type prefix → what the field expects.
_EXPECTED = {
    "string": N_("text"),
    "int": N_("an integer"),
    "float": N_("a number"),
    "bool": N_("true or false"),
    "list": N_("a list"),
    "dict": N_("a mapping"),
    "model": N_("a mapping"),
    "model_attributes": N_("a mapping"),
    "tuple": N_("a list"),
    "set": N_("a list"),
}

_BOUNDS = {
    "greater_than_equal": ("ge", N_("{field}: must be at least {limit}, got {got}")),
    "greater_than": ("gt", N_("{field}: must be more than {limit}, got {got}")),
    "less_than_equal": ("le", N_("{field}: must be at most {limit}, got {got}")),
    "less_than": ("lt", N_("{field}: must be less than {limit}, got {got}")),
}


def number(value: Any) -> str:
    """A number as people write it: ``0`` not ``0.0``, ``0.08`` not ``0.08000000000000002``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def shown(value: Any) -> str:
    """A value from the document, short enough for a one-line message."""
    if isinstance(value, dict):
        return _("a mapping")
    if isinstance(value, list):
        return _("a list")
    if value is None:
        return _("nothing")
    if isinstance(value, bool):
        return "true" if value else "false"
    text = number(value) if isinstance(value, (int, float)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choices(expected: Any) -> str:
    # pydantic words the list in English ("'a', 'b' or 'c'"); keep only the quoted choices.
    found = re.findall(r"'((?:[^'\\]|\\.)*)'", str(expected or ""))
    return ", ".join(found) if found else str(expected or "")


def _step_type(tp: Any, part: str | int) -> Any:
    """The type of ``part`` inside a value of type ``tp`` (through Annotated, unions, lists and dicts)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Annotated:
        return _step_type(args[0], part)
    if origin in (Union, types.UnionType):
        found = [t for t in (_step_type(a, part) for a in args) if t is not None]
        return found[0] if found else None
    if isinstance(part, int):
        return args[0] if origin in (list, tuple) and args else None
    if origin is dict and len(args) == 2:
        return args[1]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        info = tp.model_fields.get(part)
        return None if info is None else info.annotation
    return None


def field_names(root: type[BaseModel], path: tuple[str | int, ...]) -> list[str]:
    """The fields allowed in the mapping at ``path`` of a ``root`` document (empty when unknown)."""
    tp: Any = root
    for part in path:
        tp = _step_type(tp, part)
        if tp is None:
            return []
    while typing.get_origin(tp) in (Annotated, Union, types.UnionType):
        models = [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
        tp = models[0] if models else typing.get_args(tp)[0]
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def unknown_field(field: str, allowed: list[str]) -> str:
    """The message for a field the model does not have, with the likely intended one (typos are common)."""
    close = difflib.get_close_matches(field, allowed, n=1, cutoff=0.6)
    if close:
        return _("unknown field {field!r} (did you mean {suggestion!r}?)", field=field, suggestion=close[0])
    if allowed:
        return _("unknown field {field!r} (allowed here: {fields})", field=field, fields=", ".join(allowed))
    return _("unknown field {field!r}", field=field)


def describe(error: ErrorDetails, field: str) -> tuple[str, str]:
    """(code, message) for one pydantic error on ``field`` (the last name in its path)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value = error.get("input")
    got = shown(value)
    if kind == "missing":
        return "missing_field", _("missing required field {field!r}", field=field)
    if kind == "extra_forbidden":
        return "unknown_field", _("unknown field {field!r}", field=field)
    for prefix, expected in _EXPECTED.items():
        if kind in (f"{prefix}_type", f"{prefix}_parsing"):
            return "wrong_type", _(
                "{field}: expected {expected}, got {got}", field=field, expected=_(expected), got=got
            )
    if kind == "int_from_float":
        return "wrong_type", _("{field}: expected a whole number, got {got}", field=field, got=got)
    if kind == "int_parsing_size":
        return "out_of_range", _("{field}: the number {got} is too large", field=field, got=got)
    if kind == "finite_number":
        return "not_finite", _("{field}: expected a finite number, got {got}", field=field, got=got)
    if kind == "literal_error":
        return "unknown_choice", _(
            "{field}: {got} is not one of: {choices}",
            field=field,
            got=got,
            choices=_choices(ctx.get("expected")),
        )
    if kind in _BOUNDS:
        key, template = _BOUNDS[kind]
        return "out_of_range", _(template, field=field, limit=number(ctx.get(key)), got=got)
    return _other(kind, error, ctx, field, got)


def _other(kind: str, error: ErrorDetails, ctx: dict[str, Any], field: str, got: str) -> tuple[str, str]:
    if kind == "too_short":
        return "too_short", _(
            "{field}: needs at least {count} item(s)", field=field, count=ctx.get("min_length", 1)
        )
    if kind == "too_long":
        return "too_long", _("{field}: at most {count} item(s)", field=field, count=ctx.get("max_length"))
    if kind == "string_too_short":
        return "empty", _("{field}: must not be empty", field=field)
    if kind == "string_too_long":
        return "too_long", _("{field}: at most {count} characters", field=field, count=ctx.get("max_length"))
    if kind == "string_pattern_mismatch":
        return "bad_format", _("{field}: {got} has the wrong format", field=field, got=got)
    if kind.startswith("union") or kind.endswith("_type") or kind.endswith("_parsing"):
        return "wrong_type", _("{field}: invalid value {got}", field=field, got=got)
    if kind in _PYDANTIC_TYPES:
        return "invalid_value", _("{field}: invalid value {got}", field=field, got=got)
    message = str(error["msg"])
    # Our validators' messages often start with the field's own name ("exit_when needs …"); say it once.
    base = field.split("[", 1)[0]
    if message.startswith((f"{base} ", f"{field} ")):
        return kind, message
    return kind, _("{field}: {message}", field=field, message=message)
