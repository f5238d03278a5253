"""Shared building blocks of the playbook model: strict base model, ids, rates, money, times."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from sopflow.i18n import _
from sopflow.playbook.timenode import (
    TimeSyntaxError,
    parse_after,
    parse_clock,
    parse_duration,
    parse_time_node,
)


class Base(BaseModel):
    """Unknown fields are errors: a typo in a playbook must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=False)


ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"


def _check_id(value: str) -> str:
    import re

    if not re.match(ID_PATTERN, value):
        raise PydanticCustomError(
            "invalid_id",
            _(
                "invalid id {value!r}: use letters, digits, _ or -, starting with a letter (at most 64)",
                value=value,
            ),
        )
    return value


def _time_check(parser: Any) -> Any:
    def check(value: str) -> str:
        try:
            parser(value)
        except TimeSyntaxError as exc:
            raise PydanticCustomError("invalid_time", str(exc)) from None
        return value

    return check


def stringify_scalar(value: Any) -> Any:
    # YAML reads `version: 1` as a number; a version is text.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Id = Annotated[str, AfterValidator(_check_id)]
Text = Annotated[str, Field(min_length=1)]
Rate = Annotated[float, Field(ge=0, le=1)]
Money = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
Duration = Annotated[str, AfterValidator(_time_check(parse_duration))]
TimeNode = Annotated[str, AfterValidator(_time_check(parse_time_node))]
AfterNode = Annotated[str, AfterValidator(_time_check(parse_after))]
Clock = Annotated[str, AfterValidator(_time_check(parse_clock))]
VersionText = Annotated[str, BeforeValidator(stringify_scalar), Field(pattern=r"^\d+(\.\d+){0,2}$")]
TextList = Annotated[list[str], BeforeValidator(_one_or_many)]
Scalar = str | int | float | bool

Operator = Literal["=", "!=", ">", ">=", "<", "<=", "in", "contains"]


class Condition(Base):
    """A property test: ``{property: amount, op: ">=", value: 99}``."""

    property: Text
    op: Operator = "="
    value: Scalar | list[Scalar]
