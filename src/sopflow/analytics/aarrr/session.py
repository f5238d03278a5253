"""What the ``aarrr``, ``roi`` and ``targets`` commands share: the playbook, the engine, the range, and
how their numbers are written for people."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sopflow.analytics.frame import Engine
from sopflow.analytics.timerange import TimeRange, parse_range
from sopflow.i18n import _
from sopflow.playbook.model import Playbook

if TYPE_CHECKING:
    from sopflow.analytics.roi.costs import CostRow


@dataclass(frozen=True)
class Session:
    playbook: Playbook
    engine: Engine
    time_range: TimeRange
    cost_rows: list[CostRow] | None = None


def open_session(
    *,
    playbook: Path,
    workspace: Path | None,
    events: Path | None,
    engine: str,
    start: str | None,
    end: str | None,
    tz: str,
    costs: Path | None = None,
) -> Session:
    """Everything a command needs, checked in order of cost: options, playbook, costs file, then the engine
    (Spark takes seconds to start)."""
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.options import parse_tz
    from sopflow.analytics.roi.costs import read_costs
    from sopflow.playbook.loader import load_playbook
    from sopflow.workspace import Workspace

    zone = parse_tz(tz)
    time_range = parse_range(start, end, tz=zone)
    loaded = load_playbook(playbook)
    rows = read_costs(costs, currency=loaded.meta.currency) if costs is not None else None
    chosen = open_engine(engine, workspace=Workspace.resolve(workspace), events_path=events, tz=zone)
    return Session(loaded, chosen, time_range, rows)


def whole_range(playbook: Playbook) -> TimeRange:
    """Every event, days in the playbook's time zone: the default range of the library functions."""
    from zoneinfo import ZoneInfo

    return TimeRange(None, None, ZoneInfo(playbook.meta.timezone))


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2%}" if abs(value) < 0.01 else f"{value:.1%}"


def count(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def range_text(span: dict[str, Any]) -> str:
    """A range as people read it, from :meth:`TimeRange.as_json`."""
    return _(
        "range {start} to {end} ({tz})",
        start=span.get("from") or _("the first event"),
        end=span.get("to") or _("the last event"),
        tz=span.get("tz") or "—",
    )
