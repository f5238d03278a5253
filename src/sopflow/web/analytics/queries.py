"""The analytics questions the console asks, as bounded pydantic models, and how each becomes a library spec.

The models are the REST API's bodies and what the pages fill in. Each field error names the body field
(``body.window``, ``body.where``), whether pydantic or the library's own parsing caught it; the library's
messages are the CLI's, so the same mistake reads the same in both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from sopflow.analytics.funnel.spec import (
    MAX_EXCLUSIONS,
    MAX_STEPS,
    FunnelSpec,
    parse_exclusions,
    parse_where,
)
from sopflow.analytics.timerange import TimeRange, parse_moment, parse_window
from sopflow.errors import InvalidInput, SopflowError
from sopflow.i18n import _
from sopflow.web.errors import ApiError

DEFAULT_TZ = "Asia/Shanghai"
DAY_US = 86_400 * 1_000_000
MAX_WINDOW_US = 3_650 * DAY_US  # ten years: longer windows mean nothing and overflow the µs arithmetic
Name = Field(min_length=1, max_length=200)
T = TypeVar("T")


class Query(BaseModel):
    """What every analysis takes: the range (``from`` included, ``to``: a date includes that day) and zone."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: str | None = Field(None, alias="from", max_length=40, description="Date or datetime, included")
    to: str | None = Field(
        None, max_length=40, description="Date (whole day included) or datetime (excluded)"
    )
    tz: str = Field(DEFAULT_TZ, min_length=1, max_length=64, description="IANA time zone")

    def zone(self) -> tzinfo:
        with at_field("tz"):
            try:
                return ZoneInfo(self.tz)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise InvalidInput(
                    _("unknown time zone {name!r}; use an IANA name such as Asia/Shanghai", name=self.tz)
                ) from None

    def time_range(self) -> TimeRange:
        zone = self.zone()
        with at_field("from"):
            start = _moment(self.from_, zone, "from", end=False)
        with at_field("to"):
            end = _moment(self.to, zone, "to", end=True)
            if start is not None and end is not None and end <= start:
                raise InvalidInput(_("to must be later than from"))
        return TimeRange(start, end, zone)


class FunnelQuery(Query):
    steps: list[str] = Field(min_length=1, max_length=MAX_STEPS, description="Event names, in order")
    window: str = Field("7d", min_length=1, max_length=20, description="30m, 12h, 7d…")
    order: Literal["ordered", "strict", "unordered"] = "ordered"
    entry: Literal["any", "first"] = "any"
    where: list[str] = Field(
        default_factory=list, max_length=64, description="STEP:property OP value, e.g. pay:amount>=99"
    )
    exclude: list[str] = Field(
        default_factory=list, max_length=MAX_EXCLUSIONS, description="EVENT:i-j, e.g. refund:2-3"
    )
    by: str | None = Field(None, max_length=200, description="Break down by a property of the entry event")
    top: int = Field(10, ge=1, le=100)
    trend: Literal["day", "week"] | None = None
    histogram: bool = False

    def spec(self, *, dropped_at: int | None = None) -> FunnelSpec:
        steps = tuple(s.strip() for s in self.steps)
        with at_field("steps"):
            if any(not s or len(s) > 200 for s in steps):
                raise InvalidInput(_("steps: give event names of 1 to 200 characters"))
        with at_field("window"):
            window_us = parse_window(self.window, option="window")
            if window_us > MAX_WINDOW_US:
                raise InvalidInput(_("window: at most {days} days", days=MAX_WINDOW_US // DAY_US))
        with at_field("where"):
            _check_items(self.where)
            where = parse_where(list(self.where), steps)
        with at_field("exclude"):
            _check_items(self.exclude)
            exclusions = parse_exclusions(list(self.exclude), steps)
            if exclusions and self.order == "unordered":
                raise InvalidInput(
                    _(
                        "exclude needs an ordered or strict funnel: unordered steps have no order to exclude between"
                    )
                )
        with at_field("dropped_at"):
            if dropped_at is not None and not 2 <= dropped_at <= len(steps):
                raise InvalidInput(
                    _(
                        "dropped_at: choose a step from 2 to {n} (the persons who reached the step before it)",
                        n=len(steps),
                    )
                )
        by = self.by.strip() if self.by and self.by.strip() else None
        return FunnelSpec(
            steps=steps,
            window_us=window_us,
            order=self.order,
            entry=self.entry,
            where=where,
            exclusions=exclusions,
            by=by,
            top=self.top,
            range=self.time_range(),
            trend=self.trend,
            histogram=self.histogram,
            dropped_at=dropped_at,
        )


class DroppedQuery(FunnelQuery):
    dropped_at: int = Field(ge=2, le=MAX_STEPS, description="Persons who reached step N-1 but not step N")
    format: Literal["csv", "xlsx"] = "csv"


class RetentionQuery(Query):
    start_event: str = Name
    return_event: str = Name
    period: Literal["day", "week"] = "day"
    periods: int = Field(7, ge=1, le=400)
    mode: Literal["on", "on_or_after"] = "on"
    by: str | None = Field(None, max_length=200)
    top: int = Field(10, ge=1, le=100)


class PlaybookChoice(Query):
    """A published playbook (``ID``: its newest version, or ``ID@VERSION``) or a campaign's frozen version."""

    playbook: str | None = Field(None, min_length=1, max_length=200, description="ID or ID@VERSION")
    campaign: int | None = Field(None, ge=1, le=2**31 - 1)


class ReferralQuery(Query):
    playbook: str | None = Field(
        None, min_length=1, max_length=200, description="Who could invite and the plan's K (ID or ID@VERSION)"
    )
    top: int = Field(10, ge=1, le=1000)
    tree: bool = Field(False, description="Also answer the top of the invitation tree, small enough to draw")


class RoiQuery(PlaybookChoice):
    attribution: Literal["first", "last"] = "first"


class TargetsQuery(PlaybookChoice):
    attribution: Literal["first", "last"] = "first"


class AarrrQuery(PlaybookChoice):
    by: Literal["channel"] | None = None


def _moment(text: str | None, zone: tzinfo, option: str, *, end: bool) -> int | None:
    if not text:
        return None
    try:
        return parse_moment(text, tz=zone, option=option, end=end)
    except OverflowError:  # 9999-12-31 as an end, or an offset past the calendar's edge
        raise InvalidInput(_("{option}: {value!r} is out of range", option=option, value=text)) from None


def _check_items(items: list[str]) -> None:
    for item in items:
        if len(item) > 500:
            raise InvalidInput(_("each item has at most 500 characters"))


@contextmanager
def at_field(name: str) -> Iterator[None]:
    """A library error raised in the block becomes a 422 naming ``body.<name>``."""
    try:
        yield
    except ApiError:
        raise
    except SopflowError as exc:
        raise ApiError(exc.message, code=exc.code, status=exc.http_status, field=f"body.{name}") from None


def named(name: str, fn: Callable[[], T]) -> T:
    with at_field(name):
        return fn()
