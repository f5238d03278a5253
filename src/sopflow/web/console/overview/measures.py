"""What the overview shows of each running campaign's data: its stages and targets against the plan.

Computed off the event loop and kept for a short while per campaign, so a busy overview page costs one
computation per campaign per ``FRESH_SECONDS`` whoever opens it; the page shows the time it was computed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from sopflow.analytics.targets.aggregate import TargetsResult, compute_targets
from sopflow.analytics.targets.campaign_steps import load_campaign_run
from sopflow.analytics.timerange import TimeRange
from sopflow.store.runs import Campaign, Task
from sopflow.web.analytics.engines import ENGINES
from sopflow.web.services import Services

FRESH_SECONDS = 60.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Metrics that add up over the campaign: mid-run they are compared with the plan's pace, not its total.
CUMULATIVE = frozenset({"new_users", "referred_users", "revenue", "users", "channel_users"})


@dataclass(frozen=True)
class CampaignMeasures:
    campaign_id: int
    computed_at: datetime
    result: TargetsResult
    elapsed: float  # the share of the campaign's timeline (first task to last) that has passed, 0…1

    def behind(self) -> list[dict[str, Any]]:
        """Targets behind, as rows for the alerts. A running campaign is not yet behind its total: a metric
        that adds up is behind when it is below the plan's pace (expected × elapsed share, less the target's
        tolerance); a rate or ratio, when its status says missed or near."""
        rows = []
        for t in self.result.targets:
            if t.actual is None:
                continue
            kind = t.metric.partition(".")[0]
            if kind in CUMULATIVE and t.direction == "at_least":
                pace = t.expected * self.elapsed
                if t.actual < pace * (1 - t.tolerance):
                    rows.append(self._row(t.name or t.metric, pace, t.actual, "missed"))
            elif t.status in ("missed", "near"):
                rows.append(self._row(t.name or t.metric, t.expected, t.actual, t.status))
        return rows

    @staticmethod
    def _row(target: str, expected: float, actual: float, status: str) -> dict[str, Any]:
        return {"target": target, "expected": expected, "actual": actual, "status": status}


def elapsed_share(first: datetime | None, last: datetime | None, now: datetime) -> float:
    if first is None or last is None or last <= first:
        return 1.0 if first is not None and now >= first else 0.0
    return min(1.0, max(0.0, (now - first) / (last - first)))


_cache: dict[int, tuple[float, CampaignMeasures]] = {}
_lock = threading.Lock()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def campaign_range(starts_at: datetime | None, zone: ZoneInfo, now: datetime) -> TimeRange:
    """From the campaign's start to now: the time the campaign has been measured over."""
    start = starts_at or now
    return TimeRange(start=_micros(start), end=_micros(max(now, start)), tz=zone)


def measure_campaign(
    services: Services, campaign_id: int, *, now: datetime | None = None
) -> CampaignMeasures:
    """The campaign's targets and stages over its run so far (cached ``FRESH_SECONDS``)."""
    with _lock:
        hit = _cache.get(campaign_id)
        if hit is not None and time.monotonic() - hit[0] < FRESH_SECONDS:
            return hit[1]
    now = now or datetime.now(UTC)
    with services.database.session() as session:
        run = load_campaign_run(session=session, campaign_id=campaign_id)
        # The timeline may begin before D0 (preparation steps): measure from its first task.
        first_due, last_due = session.execute(
            select(func.min(Task.due_at), func.max(Task.due_at)).where(Task.campaign_id == campaign_id)
        ).one()
        campaign = session.get(Campaign, campaign_id)
        starts_at = min(
            (_utc(m) for m in (first_due, campaign.starts_at if campaign else None) if m is not None),
            default=None,
        )
    zone = ZoneInfo(run.timezone)
    # The server's kept engine (the analytics pages share it): the sealed events are read once per store state.
    with ENGINES.engine(services.settings.workspace) as engine:
        result = compute_targets(
            engine=engine, playbook=run.playbook, time_range=campaign_range(starts_at, zone, now)
        )
    elapsed = elapsed_share(starts_at, _utc(last_due) if last_due is not None else None, now)
    measures = CampaignMeasures(campaign_id=campaign_id, computed_at=now, result=result, elapsed=elapsed)
    with _lock:
        _cache[campaign_id] = (time.monotonic(), measures)
    return measures
