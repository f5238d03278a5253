"""CLI options shared by every analytics command (``funnel``, ``aarrr``, ``retention``, ``referral``, ``roi``…)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from sopflow.errors import InvalidInput
from sopflow.i18n import _

if TYPE_CHECKING:  # the ROI package imports pyarrow: not for commands that only need their options
    from sopflow.analytics.roi.definition import Attribution

DEFAULT_TZ = "Asia/Shanghai"


def workspace_option() -> Any:
    return typer.Option(
        None,
        "--workspace",
        envvar="SOPFLOW_HOME",
        help=_("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)"),
    )


def events_option() -> Any:
    return typer.Option(
        None,
        "--events",
        help=_("Read events from this Parquet/CSV file or Parquet dataset instead of the workspace"),
    )


def engine_option() -> Any:
    return typer.Option("duckdb", "--engine", help=_("Engine: duckdb (embedded) or spark"))


def from_option() -> Any:
    return typer.Option(None, "--from", help=_("Start of the range: a date or datetime in --tz (included)"))


def to_option() -> Any:
    return typer.Option(
        None, "--to", help=_("End of the range: a date (that whole day included) or a datetime (excluded)")
    )


def tz_option() -> Any:
    return typer.Option(DEFAULT_TZ, "--tz", help=_("Time zone for dates, days and weeks (IANA name)"))


def json_option() -> Any:
    return typer.Option(False, "--json", help=_("Print the result as JSON"))


def costs_option() -> Any:
    return typer.Option(
        None,
        "--costs",
        help=_("CSV or Excel file of actual costs: date, channel, amount (replaces fixed costs)"),
    )


def attribution_option() -> Any:
    return typer.Option(
        "first", "--attribution", help=_("Revenue to the channel of the first or last touch: first|last")
    )


def parse_attribution(text: str) -> Attribution:
    """``--attribution`` checked: ``first`` or ``last``."""
    if text == "last":
        return "last"
    if text != "first":
        from sopflow.analytics.roi.definition import ATTRIBUTIONS

        raise InvalidInput(_("--attribution: choose one of {choices}", choices=", ".join(ATTRIBUTIONS)))
    return "first"


def echo_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def parse_tz(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            _("unknown time zone {name!r}; use an IANA name such as Asia/Shanghai", name=name)
        ) from None


def resolve_events_path(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser().resolve()
